/**
 * A case's discussion (SPEC C2) among the clinicians who can see it: the chat, and second-opinion
 * requests to a named doctor, who answers here (the answer also lands in the chat). New messages
 * and requests arrive through the live channel.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import type { CaseMessage, Person, SecondOpinion } from '../api/types.ts';
import { formatDateTime, messageOf } from '../lib/format.ts';
import { Alert } from './ui.tsx';

const STATUS_TEXT: Record<SecondOpinion['status'], string> = {
  requested: 'Waiting for an answer',
  answered: 'Answered',
  declined: 'Declined',
};

function byTime<T extends { createdAt: string; id: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

export function CaseDiscussion({ scanId, userId, isDoctor }: { scanId: string; userId: string; isDoctor: boolean }) {
  const [messages, setMessages] = useState<CaseMessage[] | null>(null);
  const [requests, setRequests] = useState<SecondOpinion[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    Promise.all([api.messages(scanId), api.secondOpinions(scanId)]).then(
      ([m, r]) => {
        if (!live) return;
        setMessages(byTime(m.items));
        setRequests(r.items);
      },
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [scanId, tick]);

  const addMessage = (message: CaseMessage) =>
    setMessages((list) => (list?.some((m) => m.id === message.id) ? list : byTime([...(list ?? []), message])));
  const putRequest = (request: SecondOpinion) =>
    setRequests((list) => [...list.filter((r) => r.id !== request.id), request]);

  useLiveEvents((event) => {
    if (event.kind === 'reset') setTick((t) => t + 1);
    else if (event.kind === 'discussion.message' && event.data.scanId === scanId) addMessage(event.data.message);
    else if (event.kind === 'second_opinion.changed' && event.data.scanId === scanId) putRequest(event.data.request);
  });

  if (error) {
    return (
      <section className="card discussion" aria-labelledby="discussion-title">
        <h2 id="discussion-title">Discussion</h2>
        <Alert>{error}</Alert>
      </section>
    );
  }

  return (
    <section className="card discussion" aria-labelledby="discussion-title">
      <h2 id="discussion-title">Discussion</h2>
      <SecondOpinions requests={requests} userId={userId} isDoctor={isDoctor} scanId={scanId} onChange={putRequest} />
      <Chat messages={messages} userId={userId} scanId={scanId} onPosted={addMessage} />
    </section>
  );
}

function Chat({
  messages,
  userId,
  scanId,
  onPosted,
}: {
  messages: CaseMessage[] | null;
  userId: string;
  scanId: string;
  onPosted: (m: CaseMessage) => void;
}) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }, [messages?.length]);

  const send = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) {
      setError('Write a message first.');
      return;
    }
    setBusy(true);
    setError(null);
    api
      .postMessage(scanId, text.trim())
      .then((m) => {
        onPosted(m);
        setText('');
      })
      .catch((err: unknown) => setError(messageOf(err)))
      .finally(() => setBusy(false));
  };

  return (
    <div className="chat">
      <h3>Chat</h3>
      {messages === null ? (
        <p className="muted">Loading the chat…</p>
      ) : messages.length === 0 ? (
        <p className="muted">No messages yet.</p>
      ) : (
        <ol className="chat-list" ref={list} aria-label="Case chat" aria-live="polite">
          {messages.map((m) => (
            <li key={m.id} className={m.author.id === userId ? 'mine' : undefined} data-message-id={m.id}>
              <div className="chat-meta">
                <strong>{m.author.id === userId ? 'You' : m.author.name}</strong> ({m.author.role}) ·{' '}
                {formatDateTime(m.createdAt)}
                {m.secondOpinionId && <span className="badge"> Second opinion</span>}
              </div>
              <p className="prewrap">{m.text}</p>
            </li>
          ))}
        </ol>
      )}
      <form onSubmit={send} className="chat-form">
        <label htmlFor={`chat-${scanId}`}>Message</label>
        <textarea
          id={`chat-${scanId}`}
          rows={2}
          value={text}
          maxLength={4000}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            // Ctrl/⌘+Enter sends; Enter alone is a new line.
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
          }}
        />
        {error && <Alert>{error}</Alert>}
        <button type="submit" disabled={busy}>
          {busy ? 'Sending…' : 'Send message'}
        </button>
      </form>
    </div>
  );
}

function SecondOpinions({
  requests,
  userId,
  isDoctor,
  scanId,
  onChange,
}: {
  requests: SecondOpinion[];
  userId: string;
  isDoctor: boolean;
  scanId: string;
  onChange: (r: SecondOpinion) => void;
}) {
  return (
    <div className="second-opinion">
      <h3>Second opinions</h3>
      {requests.length > 0 && (
        <ul className="plain-list" aria-label="Second-opinion requests">
          {requests.map((r) => (
            <li key={r.id} data-request-id={r.id}>
              <strong>{r.requestedBy.id === userId ? 'You' : r.requestedBy.name}</strong> asked{' '}
              <strong>{r.requestedOf.id === userId ? 'you' : r.requestedOf.name}</strong> ·{' '}
              <span className={`badge so-${r.status}`}>{STATUS_TEXT[r.status]}</span>
              {r.note && <p className="prewrap muted">“{r.note}”</p>}
              {r.response && <p className="prewrap">{r.response}</p>}
              {r.status === 'requested' && r.requestedOf.id === userId && <Respond request={r} onDone={onChange} />}
            </li>
          ))}
        </ul>
      )}
      {isDoctor && <AskForm scanId={scanId} onDone={onChange} />}
    </div>
  );
}

function AskForm({ scanId, onDone }: { scanId: string; onDone: (r: SecondOpinion) => void }) {
  const [doctors, setDoctors] = useState<Person[] | null>(null);
  const [doctorId, setDoctorId] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  useEffect(() => {
    api.secondOpinionDoctors().then(
      (r) => setDoctors(r.items),
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSent(null);
    if (!doctorId) {
      setError('Choose the doctor to ask.');
      return;
    }
    setError(null);
    api.requestSecondOpinion(scanId, doctorId, note.trim() || undefined).then(
      (r) => {
        onDone(r);
        setNote('');
        setSent(`Asked ${r.requestedOf.name}. They will see it in their worklist.`);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  };

  return (
    <form onSubmit={submit} className="ask-form" aria-label="Ask for a second opinion">
      <div className="field">
        <label htmlFor={`so-doctor-${scanId}`}>Ask a doctor</label>
        <select id={`so-doctor-${scanId}`} value={doctorId} onChange={(e) => setDoctorId(e.target.value)}>
          <option value="">{doctors === null ? 'Loading…' : 'Choose a doctor…'}</option>
          {doctors?.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`so-note-${scanId}`}>Question (optional)</label>
        <textarea id={`so-note-${scanId}`} rows={2} value={note} onChange={(e) => setNote(e.target.value)} />
      </div>
      {error && <Alert>{error}</Alert>}
      {sent && <Alert kind="success">{sent}</Alert>}
      <button type="submit">Ask for a second opinion</button>
    </form>
  );
}

function Respond({ request, onDone }: { request: SecondOpinion; onDone: (r: SecondOpinion) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const respond = (decision: 'answer' | 'decline') => {
    if (decision === 'answer' && !text.trim()) {
      setError('Write your answer first.');
      return;
    }
    setError(null);
    api
      .respondSecondOpinion(request.id, decision, text.trim() || undefined)
      .then(onDone, (err: unknown) => setError(messageOf(err)));
  };
  return (
    <div className="respond">
      <label htmlFor={`so-answer-${request.id}`}>Your answer</label>
      <textarea id={`so-answer-${request.id}`} rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      {error && <Alert>{error}</Alert>}
      <div className="row">
        <button type="button" className="primary" onClick={() => respond('answer')}>
          Send answer
        </button>
        <button type="button" onClick={() => respond('decline')}>
          Decline
        </button>
      </div>
    </div>
  );
}
