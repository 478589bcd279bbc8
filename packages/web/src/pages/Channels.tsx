/**
 * Notification channels of the team: where capsule, snapshot and host events are sent
 * (Slack, Discord, Teams, Google Chat, Telegram, Matrix, or a signed webhook). Create with
 * the provider's fields, send a test message, see the last delivery or failure, delete.
 */
import { useState } from 'react';
import { api, messageOf } from '../api';
import { useAction, usePoll } from '../hooks';
import { ago, Dialog, Empty, ErrorText, Table } from '../ui';

interface Channel {
  id: string;
  name: string;
  provider: string;
  events: string[];
  config: Record<string, string>;
  secret: string | null;
  last_delivery_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  failure_count: number;
}

/** Each provider's config fields, in the order the form asks for them. */
const FIELDS: Record<string, Array<{ key: string; label: string; optional?: boolean; secret?: boolean }>> = {
  webhook: [
    { key: 'url', label: 'URL' },
    { key: 'secret', label: 'Signing secret (blank: one is generated)', optional: true, secret: true },
  ],
  slack: [{ key: 'webhook_url', label: 'Incoming webhook URL' }],
  discord: [{ key: 'webhook_url', label: 'Webhook URL' }],
  teams: [{ key: 'webhook_url', label: 'Incoming webhook URL' }],
  googlechat: [{ key: 'webhook_url', label: 'Webhook URL' }],
  telegram: [
    { key: 'bot_token', label: 'Bot token', secret: true },
    { key: 'chat_id', label: 'Chat id' },
  ],
  matrix: [
    { key: 'homeserver_url', label: 'Homeserver URL' },
    { key: 'access_token', label: 'Access token', secret: true },
    { key: 'room_id', label: 'Room id' },
  ],
};

const EVENTS = ['capsule.created', 'capsule.running', 'capsule.paused', 'capsule.destroyed', 'template.snapshot.created', 'template.snapshot.deleted', 'host.up', 'host.down'];

function NewChannelDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (c: Channel) => void }) {
  const [name, setName] = useState('');
  const [provider, setProvider] = useState('webhook');
  const [config, setConfig] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<string[]>(['capsule.created', 'capsule.destroyed']);
  const filled = () => Object.fromEntries(Object.entries(config).filter(([k, v]) => v !== '' && FIELDS[provider]!.some((f) => f.key === k)));
  const test = useAction(async () => {
    await api('POST', '/channels/test', { provider, config: filled() });
  });
  const [tested, setTested] = useState(false);
  const create = useAction(async () => onCreated(await api<Channel>('POST', '/channels', { name, provider, config: filled(), events })));
  return (
    <Dialog title="New channel" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label>
          Name
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Provider
          <select value={provider} onChange={(e) => (setProvider(e.target.value), setTested(false))}>
            {Object.keys(FIELDS).map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        {FIELDS[provider]!.map((f) => (
          <label key={`${provider}-${f.key}`}>
            {f.label}
            <input type={f.secret ? 'password' : 'text'} required={!f.optional} autoComplete="off" value={config[f.key] ?? ''} onChange={(e) => setConfig({ ...config, [f.key]: e.target.value })} />
          </label>
        ))}
        <fieldset>
          <legend>Events</legend>
          {EVENTS.map((ev) => (
            <label key={ev} className="check">
              <input type="checkbox" checked={events.includes(ev)} onChange={(e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))} />
              {ev}
            </label>
          ))}
        </fieldset>
        {tested && !test.error && <p role="status">Test message sent.</p>}
        <ErrorText error={test.error ?? create.error} />
        <div className="actions">
          <button type="button" disabled={test.busy} onClick={() => void test.run().then((ok) => setTested(ok))}>
            {test.busy ? 'Sending…' : 'Send a test'}
          </button>
          <button type="submit" className="primary" disabled={create.busy || events.length === 0}>
            {create.busy ? 'Creating…' : 'Create channel'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function ChannelsPage() {
  const channels = usePoll(() => api<Channel[]>('GET', '/channels'), [], 10_000);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ name: string; secret: string }>();
  const [busy, setBusy] = useState<string>();
  const [rowNote, setRowNote] = useState<{ id: string; message: string; ok: boolean }>();
  const onRow = async (c: Channel, what: 'test' | 'delete') => {
    if (what === 'delete' && !confirm(`Delete the channel ${c.name}?`)) return;
    setRowNote(undefined);
    setBusy(c.id);
    try {
      if (what === 'test') await api('POST', `/channels/${encodeURIComponent(c.id)}/test`);
      else await api('DELETE', `/channels/${encodeURIComponent(c.id)}`);
      if (what === 'test') setRowNote({ id: c.id, message: 'Test message sent.', ok: true });
      channels.reload();
    } catch (err) {
      setRowNote({ id: c.id, message: messageOf(err), ok: false });
    } finally {
      setBusy(undefined);
    }
  };
  const rows = channels.data ?? [];
  return (
    <>
      <header className="page-head">
        <h1>Channels</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New channel
        </button>
      </header>
      <p className="muted">Events of your capsules, snapshots and hosts, sent where your team reads them. Failed deliveries are retried.</p>
      <ErrorText error={channels.error} />
      {channels.data && rows.length === 0 ? (
        <Empty>No channels yet.</Empty>
      ) : (
        <Table
          caption="Channels"
          rows={rows}
          rowKey={(c) => c.id}
          columns={[
            { header: 'Channel', cell: (c) => c.name },
            { header: 'Provider', cell: (c) => c.provider },
            { header: 'Events', cell: (c) => c.events.map((e) => <span key={e} className="chip">{e}</span>), className: 'meta' },
            {
              header: 'Delivery',
              cell: (c) =>
                c.last_error && (!c.last_delivery_at || (c.last_error_at ?? '') > c.last_delivery_at) ? (
                  <span className="error">
                    failing ({c.failure_count}): {c.last_error}
                  </span>
                ) : c.last_delivery_at ? (
                  `delivered ${ago(c.last_delivery_at)}`
                ) : (
                  'nothing sent yet'
                ),
            },
            {
              header: 'Actions',
              srOnly: true,
              className: 'right',
              cell: (c) => (
                <>
                  <button type="button" className="small" disabled={busy === c.id} onClick={() => void onRow(c, 'test')} aria-label={`Test ${c.name}`}>
                    Test
                  </button>
                  <button type="button" className="small danger" disabled={busy === c.id} onClick={() => void onRow(c, 'delete')} aria-label={`Delete ${c.name}`}>
                    Delete
                  </button>
                  {rowNote?.id === c.id && (rowNote.ok ? <p role="status">{rowNote.message}</p> : <ErrorText error={rowNote.message} />)}
                </>
              ),
            },
          ]}
        />
      )}
      {creating && (
        <NewChannelDialog
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            if (c.secret) setSecret({ name: c.name, secret: c.secret });
            channels.reload();
          }}
        />
      )}
      {secret && (
        <Dialog title={`Signing secret of ${secret.name}`} onClose={() => setSecret(undefined)}>
          <p>Check each webhook's X-Wrenn-Signature with this secret. It is shown only now.</p>
          <pre className="preview-text">{secret.secret}</pre>
          <div className="actions">
            <button type="button" className="primary" onClick={() => setSecret(undefined)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
