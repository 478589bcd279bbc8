/** Shared bits of UI: error text, status badges, dialogs, sizes and times in words. */
import { useEffect, useRef, type ReactNode } from 'react';

export function ErrorText({ error, id }: { error: string | undefined; id?: string }) {
  if (!error) return null;
  return (
    <p className="error" role="alert" id={id}>
      {error}
    </p>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const moving = ['pending', 'starting', 'pausing', 'resuming', 'stopping'].includes(status);
  return (
    <span className={`badge badge-${status}`} aria-label={`status ${status}`}>
      {moving && <span className="spinner" aria-hidden="true" />}
      {status}
    </span>
  );
}

/** A modal <dialog>: focus is trapped by the browser, Escape closes it. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    d?.addEventListener('cancel', onCancel);
    return () => d?.removeEventListener('cancel', onCancel);
  }, [onClose]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" className="dialog">
      <header className="dialog-head">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" className="ghost" onClick={onClose} aria-label="Close">
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function ago(iso: string | null): string {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
