// An ordinary Express app. harper-tls loads it in-process (`applications[].module`) and hands it
// only requests it has authenticated: req.user is the verified user, req.clientCertificate the
// client certificate that authenticated it (or null for Basic/JWT).
import express from 'express';

const app = express();
app.use(express.json());

app.get('/', (req, res) => {
  res.json({ hello: req.user.username, role: req.user.role, authenticatedBy: req.user.authenticatedBy, certificate: req.clientCertificate?.subject ?? null });
});

const notes = [];
app.post('/notes', (req, res) => {
  notes.push({ by: req.user.username, text: String(req.body?.text ?? '') });
  res.status(201).json(notes.at(-1));
});
app.get('/notes', (_req, res) => res.json(notes));

export default app;

/** Awaited by harper-tls on shutdown. */
export async function close() {
  notes.length = 0;
}
