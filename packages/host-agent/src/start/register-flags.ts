/**
 * `--register TOKEN` and `--control-plane URL` (also `--flag=value`) become
 * WRENN_REGISTER_TOKEN / WRENN_CONTROL_PLANE_URL; the other arguments are returned as they are.
 */
export function applyRegisterFlags(argv: string[], env: NodeJS.ProcessEnv): { args: string[]; env: NodeJS.ProcessEnv } {
  const flags: Record<string, string> = { '--register': 'WRENN_REGISTER_TOKEN', '--control-plane': 'WRENN_CONTROL_PLANE_URL' };
  const out = { ...env };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const name = flags[flag];
    if (!name) {
      args.push(a);
      continue;
    }
    const value = inline ?? argv[++i];
    if (!value) throw new Error(`${flag} needs a value`);
    out[name] = value;
  }
  return { args, env: out };
}
