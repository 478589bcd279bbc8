/** The Files tab: browse, preview text and images, upload with progress, download, mkdir, delete. */
import { useEffect, useRef, useState } from 'react';
import { api, messageOf, request, uploadFile } from '../api';
import { useAction, usePoll } from '../hooks';
import type { FileEntry } from '../types';
import { bytes, Dialog, Empty, ErrorText } from '../ui';

const IMAGE = /\.(png|jpe?g|gif|webp|svg|bmp|ico)$/i;
const PREVIEW_LIMIT = 512 * 1024;

function join(dir: string, name: string): string {
  return dir === '.' ? name : `${dir.replace(/\/$/, '')}/${name}`;
}

function parentOf(dir: string): string {
  if (dir === '.' || dir === '/') return dir;
  const i = dir.replace(/\/$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : dir.slice(0, i);
}

async function readBlob(capsuleId: string, path: string): Promise<Blob> {
  const res = await request('POST', `/capsules/${encodeURIComponent(capsuleId)}/files/read`, { body: { path } });
  return res.blob();
}

export function FilesTab({ capsuleId }: { capsuleId: string }) {
  // "." is the default user's home; entries carry absolute paths from then on.
  const [dir, setDir] = useState('.');
  const [pathInput, setPathInput] = useState('');
  const list = usePoll(
    () => api<{ entries: FileEntry[] }>('POST', `/capsules/${encodeURIComponent(capsuleId)}/files/list`, { path: dir, depth: 1 }),
    [capsuleId, dir],
  );
  const entries = [...(list.data?.entries ?? [])].sort((a, b) => (isDir(a) ? 0 : 1) - (isDir(b) ? 0 : 1) || a.name.localeCompare(b.name));
  const shownDir = dir === '.' && entries[0] ? parentOf(entries[0].path) : dir;
  useEffect(() => setPathInput(shownDir === '.' ? '' : shownDir), [shownDir]);
  const [preview, setPreview] = useState<FileEntry>();
  const [uploads, setUploads] = useState<Array<{ name: string; progress: number; error?: string }>>([]);
  const [rowError, setRowError] = useState<{ path: string; message: string }>();
  const fileInput = useRef<HTMLInputElement>(null);

  const upload = async (files: FileList) => {
    for (const f of Array.from(files)) {
      setUploads((u) => [...u.filter((x) => x.name !== f.name), { name: f.name, progress: 0 }]);
      const update = (patch: Partial<{ progress: number; error: string }>) => setUploads((u) => u.map((x) => (x.name === f.name ? { ...x, ...patch } : x)));
      try {
        await uploadFile(capsuleId, join(shownDir, f.name), f, (p) => update({ progress: p }));
        update({ progress: 1 });
        setUploads((u) => u.filter((x) => x.name !== f.name || x.error));
      } catch (err) {
        update({ error: messageOf(err) });
      }
    }
    list.reload();
  };
  const mkdir = useAction(async (name: string) => {
    await api('POST', `/capsules/${encodeURIComponent(capsuleId)}/files/mkdir`, { path: join(shownDir, name) });
    list.reload();
  });
  const [newDir, setNewDir] = useState('');
  const remove = async (e: FileEntry) => {
    if (!confirm(`Delete ${e.path}${isDir(e) ? ' and everything in it' : ''}?`)) return;
    setRowError(undefined);
    try {
      await api('POST', `/capsules/${encodeURIComponent(capsuleId)}/files/remove`, { path: e.path });
      list.reload();
    } catch (err) {
      setRowError({ path: e.path, message: messageOf(err) });
    }
  };
  const download = async (e: FileEntry) => {
    setRowError(undefined);
    try {
      const url = URL.createObjectURL(await readBlob(capsuleId, e.path));
      const a = document.createElement('a');
      a.href = url;
      a.download = e.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setRowError({ path: e.path, message: messageOf(err) });
    }
  };

  return (
    <section aria-label="Files">
      <div className="toolbar">
        <button type="button" disabled={shownDir === '/'} onClick={() => setDir(parentOf(shownDir))} aria-label="Up one directory">
          ↑ Up
        </button>
        <form
          className="row grow"
          onSubmit={(e) => {
            e.preventDefault();
            if (pathInput) setDir(pathInput);
          }}
        >
          <label className="grow">
            Path
            <input className="mono" value={pathInput} onChange={(e) => setPathInput(e.target.value)} />
          </label>
          <button type="submit">Go</button>
        </form>
        <button type="button" className="primary" onClick={() => fileInput.current?.click()}>
          Upload files
        </button>
        <input ref={fileInput} type="file" multiple hidden aria-label="Files to upload" onChange={(e) => e.target.files && void upload(e.target.files)} data-testid="upload-input" />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (newDir) void mkdir.run(newDir).then((ok) => ok && setNewDir(''));
          }}
        >
          <label>
            New folder
            <input value={newDir} onChange={(e) => setNewDir(e.target.value)} />
          </label>
          <button type="submit" disabled={mkdir.busy || !newDir}>
            Create
          </button>
        </form>
      </div>
      <ErrorText error={mkdir.error} />
      {uploads.map((u) => (
        <div key={u.name} className="upload">
          <label>
            Uploading {u.name}
            <progress max={1} value={u.progress} />
          </label>
          <ErrorText error={u.error} />
        </div>
      ))}
      <ErrorText error={list.error} />
      {list.data && entries.length === 0 ? (
        <Empty>This folder is empty.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Files in {shownDir}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Owner</th>
              <th scope="col">Modified</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.path}>
                <td>
                  {isDir(e) ? (
                    <button type="button" className="link" onClick={() => setDir(e.path)}>
                      {e.name}/
                    </button>
                  ) : (
                    <button type="button" className="link" onClick={() => setPreview(e)}>
                      {e.name}
                    </button>
                  )}
                  {rowError?.path === e.path && <ErrorText error={rowError.message} />}
                </td>
                <td className="nowrap">{isDir(e) ? '' : bytes(e.size)}</td>
                <td>{e.owner}</td>
                <td className="nowrap">{e.modified_at ? new Date(typeof e.modified_at === 'number' ? e.modified_at * 1000 : e.modified_at).toLocaleString() : ''}</td>
                <td className="nowrap right">
                  {!isDir(e) && (
                    <button type="button" className="small" onClick={() => void download(e)} aria-label={`Download ${e.name}`}>
                      Download
                    </button>
                  )}{' '}
                  <button type="button" className="small danger" onClick={() => void remove(e)} aria-label={`Delete ${e.name}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {preview && <Preview capsuleId={capsuleId} entry={preview} onClose={() => setPreview(undefined)} />}
    </section>
  );
}

function Preview({ capsuleId, entry, onClose }: { capsuleId: string; entry: FileEntry; onClose: () => void }) {
  const [content, setContent] = useState<{ text?: string; image?: string; error?: string }>();
  useEffect(() => {
    let url: string | undefined;
    let live = true;
    if (!IMAGE.test(entry.name) && entry.size > PREVIEW_LIMIT) {
      setContent({ error: `This file is ${bytes(entry.size)}: too large to preview here. Download it instead.` });
      return;
    }
    readBlob(capsuleId, entry.path)
      .then(async (blob) => {
        if (!live) return;
        if (IMAGE.test(entry.name)) {
          url = URL.createObjectURL(entry.name.endsWith('.svg') ? new Blob([blob], { type: 'image/svg+xml' }) : blob);
          setContent({ image: url });
        } else {
          const text = await blob.text();
          setContent(/\u0000/.test(text.slice(0, 8000)) ? { error: 'This looks like a binary file: download it instead.' } : { text });
        }
      })
      .catch((err) => live && setContent({ error: messageOf(err) }));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [capsuleId, entry]);
  return (
    <Dialog title={entry.path} onClose={onClose}>
      {!content ? (
        <p aria-busy="true">Loading…</p>
      ) : content.error ? (
        <ErrorText error={content.error} />
      ) : content.image ? (
        <img src={content.image} alt={entry.name} className="preview-image" />
      ) : (
        <pre className="preview-text">{content.text}</pre>
      )}
    </Dialog>
  );
}

/** Wrenn's contract says `directory`; our earlier servers said `dir`. */
function isDir(e: FileEntry): boolean {
  return e.type === 'directory' || e.type === 'dir';
}
