/** Small data hooks: load-and-poll, and a button action with its in-flight and error state. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/** Loads with `load`, again every `everyMs` (when given) while the tab is visible. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await loadRef.current();
        if (!live) return;
        setData(d);
        setError(undefined);
      } catch (err) {
        if (live) setError(messageOf(err));
      }
      if (live && everyMs) timer = setTimeout(run, document.hidden ? everyMs * 5 : everyMs);
    };
    void run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, everyMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

export interface Action<A extends unknown[]> {
  run: (...args: A) => Promise<boolean>;
  busy: boolean;
  error: string | undefined;
  clear: () => void;
}

/** An action a button starts: `busy` while it runs, its failure in words in `error`. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      setError(undefined);
      try {
        await fn(...args);
        return true;
      } catch (err) {
        setError(messageOf(err));
        return false;
      } finally {
        setBusy(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [fn],
  );
  return { run, busy, error, clear: () => setError(undefined) };
}
