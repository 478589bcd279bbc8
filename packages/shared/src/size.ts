/**
 * Human sizes as WRENN_DEFAULT_ROOTFS_SIZE takes them: `5G`, `2Gi`, `1000M`, `512Mi`,
 * `4096K`, or plain bytes. Decimal suffixes are powers of 1000, `i` suffixes of 1024.
 */
const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  KI: 1024,
  MI: 1024 ** 2,
  GI: 1024 ** 3,
  TI: 1024 ** 4,
};

export function parseSize(text: string, name = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?|B)?B?\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toUpperCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`${name}: cannot parse ${JSON.stringify(text)} as a size (examples: 5G, 2Gi, 1000M, 512Mi)`);
  }
  return Math.floor(Number(m[1]) * unit);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
