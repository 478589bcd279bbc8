/**
 * Template builds of the team: the list (polled while any build is under way), and the
 * dialog that starts one from a recipe or a Dockerfile, with an optional build context
 * archive (tar, tar.gz or zip) for COPY, sent as multipart/form-data.
 */
import { useState } from 'react';
import { api, apiList, request } from '../api';
import { useAction, usePoll } from '../hooks';
import { href, navigate } from '../router';
import type { Build, TemplateListing } from '../types';
import { ago, Dialog, Empty, ErrorText, StatusBadge, Table } from '../ui';

const FINAL = new Set(['success', 'failed', 'cancelled']);

const EXAMPLE_RECIPE = ['RUN apt-get install -y --no-install-recommends jq', 'ENV GREETING=hello', 'WORKDIR /srv/app'].join('\n');

export function BuildsPage() {
  const builds = usePoll(() => api<Build[]>('GET', '/builds'), [], 2000);
  const [creating, setCreating] = useState(false);
  const rows = [...(builds.data ?? [])].sort((a, b) => b.created_at.localeCompare(a.created_at));
  return (
    <>
      <header className="page-head">
        <h1>Builds</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New build
        </button>
      </header>
      <p className="muted">A build runs a recipe or a Dockerfile in a build capsule and saves the result as a template of your team.</p>
      <ErrorText error={builds.error} />
      {builds.data && rows.length === 0 ? (
        <Empty>No builds yet. Start one with “New build”.</Empty>
      ) : (
        <Table
          caption="Builds"
          rows={rows}
          rowKey={(b) => b.id}
          onRowClick={(b) => navigate('builds', b.id)}
          columns={[
            {
              header: 'Template',
              cell: (b) => (
                <a href={href('builds', b.id)} className="mono">
                  {b.name}
                </a>
              ),
            },
            { header: 'Status', cell: (b) => <StatusBadge status={b.status} moving={!FINAL.has(b.status)} /> },
            { header: 'From', cell: (b) => b.base_template },
            { header: 'Steps', cell: (b) => (FINAL.has(b.status) ? `${b.total_steps}` : `${b.current_step} / ${b.total_steps}`), className: 'nowrap' },
            { header: 'Started', cell: (b) => ago(b.created_at), className: 'nowrap' },
          ]}
        />
      )}
      {creating && (
        <NewBuildDialog
          onClose={() => setCreating(false)}
          onCreated={(b) => {
            setCreating(false);
            navigate('builds', b.id);
          }}
        />
      )}
    </>
  );
}

function NewBuildDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (b: Build) => void }) {
  const templates = usePoll(() => apiList<TemplateListing>('/templates', 'templates'), []);
  const [name, setName] = useState('');
  const [base, setBase] = useState('minimal');
  const [kind, setKind] = useState<'recipe' | 'dockerfile'>('recipe');
  const [text, setText] = useState(EXAMPLE_RECIPE);
  const [archive, setArchive] = useState<File>();
  const create = useAction(async () => {
    const config = kind === 'recipe' ? { name, base_template: base, recipe: text.split('\n') } : { name, dockerfile: text };
    let res: Response;
    if (archive) {
      const form = new FormData();
      form.set('config', JSON.stringify(config));
      form.set('archive', archive);
      res = await request('POST', '/builds', { form });
    } else res = await request('POST', '/builds', { body: config });
    onCreated((await res.json()) as Build);
  });
  const names = (templates.data ?? []).map((t) => t.name);
  if (!names.includes('minimal')) names.unshift('minimal');
  return (
    <Dialog title="New build" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label>
          Template name
          <input required pattern="[a-z0-9][a-z0-9._\-]*" maxLength={63} value={name} onChange={(e) => setName(e.target.value)} placeholder="my-python" aria-describedby="name-help" />
        </label>
        <p className="muted small" id="name-help">
          Lower-case letters, digits, dots, dashes and underscores.
        </p>
        <fieldset className="radios">
          <legend>Describe it as</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'recipe'} onChange={() => (setKind('recipe'), setText(EXAMPLE_RECIPE))} /> a recipe
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'dockerfile'} onChange={() => (setKind('dockerfile'), setText(`FROM ${base}\nRUN echo ready > /ready`))} /> a Dockerfile
          </label>
        </fieldset>
        {kind === 'recipe' && (
          <label>
            From template
            <select value={base} onChange={(e) => setBase(e.target.value)}>
              {names.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          {kind === 'recipe' ? 'Recipe (RUN, ENV, WORKDIR, USER, COPY, START: one per line)' : 'Dockerfile (FROM one of your templates)'}
          <textarea className="mono" rows={8} required value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        </label>
        <label>
          Build context for COPY (optional: .tar, .tar.gz or .zip)
          <input type="file" accept=".tar,.tgz,.tar.gz,.zip" onChange={(e) => setArchive(e.target.files?.[0])} />
        </label>
        <ErrorText error={create.error ?? templates.error} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={create.busy}>
            {create.busy ? 'Starting…' : 'Start build'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
