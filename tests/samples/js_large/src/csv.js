'use strict';

// RFC 4180 fields: quoted fields may hold separators, newlines and doubled quotes.
function parseLine(line, separator = ',') {
  const fields = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === separator) {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  if (quoted) throw new SyntaxError('unterminated quoted field');
  fields.push(field);
  return fields;
}

function parse(text, { separator = ',', header = true } = {}) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const rows = lines.map((line) => parseLine(line, separator));
  if (!header) return rows;
  const [names, ...body] = rows;
  return body.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i] === undefined ? '' : row[i]])));
}

function quote(value, separator = ',') {
  const text = value === null || value === undefined ? '' : String(value);
  return /["\n\r]/.test(text) || text.includes(separator) ? `"${text.replace(/"/g, '""')}"` : text;
}

function stringify(records, separator = ',') {
  if (records.length === 0) return '';
  const names = Object.keys(records[0]);
  const lines = [names, ...records.map((r) => names.map((n) => r[n]))];
  return lines.map((cells) => cells.map((c) => quote(c, separator)).join(separator)).join('\n');
}

module.exports = { parseLine, parse, stringify };
