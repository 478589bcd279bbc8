/**
 * Expands the templates ./words.ts produces: `$NAME` and `${NAME}` take their value from
 * `env` (an unknown name is the empty string, as in the shell), `\$` is a literal dollar
 * and `\\` a literal backslash. Runs when a build step executes, against the build
 * capsule's environment plus the recipe's ENV so far (so `ENV PATH=/opt/bin:$PATH` works).
 */
export function expandTemplate(template: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === '\\' && i + 1 < template.length) {
      out += template[i + 1];
      i += 2;
      continue;
    }
    if (c === '$') {
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(template.slice(i));
      const bare = braced ? null : /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(template.slice(i));
      const m = braced ?? bare;
      if (m) {
        out += env[m[1]!] ?? '';
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i += 1;
  }
  return out;
}

/** True when the template refers to a variable (`$NAME` or `${NAME}` not escaped). */
export function hasReference(template: string): boolean {
  for (let i = 0; i < template.length; i++) {
    if (template[i] === '\\') i += 1;
    else if (template[i] === '$' && /^\$(\{[A-Za-z_]|[A-Za-z_])/.test(template.slice(i))) return true;
  }
  return false;
}
