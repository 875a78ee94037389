const { parseLine, parse, stringify } = require('../src/csv');

describe('parseLine', () => {
  test('splits plain fields', () => {
    expect(parseLine('a,b,c')).toEqual(['a', 'b', 'c']);
  });

  test('keeps separators and doubled quotes inside quotes', () => {
    expect(parseLine('"x, y","say ""hi"""')).toEqual(['x, y', 'say "hi"']);
  });

  test('keeps empty fields', () => {
    expect(parseLine(',,')).toEqual(['', '', '']);
  });

  test('refuses an unterminated quote', () => {
    expect(() => parseLine('"open')).toThrow(SyntaxError);
  });
});

describe('parse and stringify', () => {
  const text = 'name,qty\napple,3\r\n"pear, green",5\n';

  test('reads records by header', () => {
    expect(parse(text)).toEqual([
      { name: 'apple', qty: '3' },
      { name: 'pear, green', qty: '5' },
    ]);
  });

  test('reads rows without a header', () => {
    expect(parse('1;2\n3;4', { separator: ';', header: false })).toEqual([['1', '2'], ['3', '4']]);
  });

  test('round-trips', () => {
    expect(stringify(parse(text))).toBe('name,qty\napple,3\n"pear, green",5');
  });

  test('writes nothing for no records', () => {
    expect(stringify([])).toBe('');
  });
});
