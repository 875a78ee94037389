'use strict';

const MARKS = /[\u0300-\u036f]/g;

function slugify(text, separator = '-') {
  return String(text)
    .normalize('NFKD')
    .replace(MARKS, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, separator)
    .replace(new RegExp(`^${separator}+|${separator}+$`, 'g'), '');
}

// A slug not yet in `taken`: "title", then "title-2", "title-3", ...
function uniqueSlug(text, taken) {
  const base = slugify(text) || 'item';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

module.exports = { slugify, uniqueSlug };
