module example.com/large

go 1.23
