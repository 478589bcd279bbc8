/**
 * Shell-like word splitting for recipe arguments (ENV, WORKDIR, USER, COPY): words are
 * separated by blanks; 'single quotes' keep everything literal, "double quotes" keep blanks
 * and take `\"`, `\\` and `\$` escapes, a backslash outside quotes escapes the next
 * character, and adjacent pieces form one word (`a"b c"'d'` is `ab cd`).
 *
 * Variable references stay in the word as *templates* for ./expand.ts: `$NAME` and
 * `${NAME}` written unquoted or in double quotes are kept, a `$` that was quoted or
 * escaped is written `\$`, and a literal backslash `\\`, so expansion at build time (when
 * the capsule's own environment, e.g. PATH, is known) can tell them apart.
 */

export class WordsError extends Error {}

/** Splits `text` into template words; throws WordsError on an unterminated quote. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const literal = (c: string) => (c === '$' ? '\\$' : c === '\\' ? '\\\\' : c);
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i += 1;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new WordsError(`unterminated single quote at column ${i + 1}`);
      for (const ch of text.slice(i + 1, end)) word += literal(ch);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const d = text[j]!;
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\\' && j + 1 < text.length && '"\\$'.includes(text[j + 1]!)) {
          word += literal(text[j + 1]!);
          j += 2;
          continue;
        }
        word += d === '\\' ? '\\\\' : d;
        j += 1;
      }
      if (!closed) throw new WordsError(`unterminated double quote at column ${i + 1}`);
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new WordsError('a backslash at the end of the line escapes nothing');
      word += literal(text[i + 1]!);
      i += 2;
    } else {
      word += c;
      i += 1;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Quotes `value` for the shell (and for splitWords) so it reads back as exactly `value`. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
