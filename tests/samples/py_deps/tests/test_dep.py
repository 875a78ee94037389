import tinydep


def test_the_dependency_layer_provides_tinydep():
    assert tinydep.double(21) == 42
