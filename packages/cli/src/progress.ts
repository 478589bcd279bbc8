/**
 * Progress of long operations on stderr (stdout stays for data): a cli-progress bar on a
 * terminal, nothing elsewhere (pipes and CI logs get the final summary line only).
 */
import cliProgress from 'cli-progress';
import { humanBytes } from './output.js';

export interface ByteProgress {
  update(bytes: number): void;
  stop(): void;
}

/** A bar in bytes; `total` undefined when unknown (then it shows bytes and speed only). */
export function byteProgress(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): ByteProgress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const startedAt = Date.now();
  const format = total
    ? ` ${label} {bar} {percentage}% | {done} / {size} | {speed}`
    : ` ${label} {done} | {speed}`;
  const bar = new cliProgress.SingleBar(
    { format, stream, hideCursor: true, clearOnComplete: false, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  const payload = (n: number) => ({
    done: humanBytes(n),
    size: humanBytes(total ?? 0),
    speed: `${humanBytes(Math.round(n / Math.max(0.001, (Date.now() - startedAt) / 1000)))}/s`,
  });
  bar.start(total ?? 1, 0, payload(0));
  return {
    update(n) {
      bar.update(total ? n : 0, payload(n));
    },
    stop() {
      bar.stop();
    },
  };
}
