/*!
 * Nectarine chat panel — the embeddable assistant widget of the Nectain platform.
 *
 *   <script src="https://HOST/widget.js" data-site-key="..." data-product-version="4.3.1" defer></script>
 *
 * Self-contained vanilla JS: no framework, no build step, no requests except to its own API host
 * (the origin of this script's src, or the data-api attribute). Renders inside a Shadow DOM so the
 * host page's CSS cannot reach it and its CSS cannot leak out. All server and user strings reach
 * the page through textContent / text nodes only: there is no innerHTML anywhere in this file.
 *
 * Options (attributes of the script tag): data-theme="light|dark|auto" (default: the OS setting),
 * data-shortcut="mod+k" (the default; "off", or e.g. "ctrl+shift+h"), data-locale="de" (default: the
 * browser's language; en, de, fr, es, pt, ja), data-examples="First question|Second question".
 * A page opened at #nectarine=<question> opens the panel and asks it.
 *
 * Public API: window.Nectarine = { open(), close(), ask(text), setTheme("light|dark|auto"), setContext({...}) }
 */
(() => {
  'use strict';
  if (window.Nectarine && window.Nectarine.__ready) return; // included twice: keep the first

  // ================================================================== config
  const SCRIPT = document.currentScript ||
    [...document.getElementsByTagName('script')].reverse().find((s) => /widget\.js([?#]|$)/.test(s.src));
  const DS = (SCRIPT && SCRIPT.dataset) || {};
  const API = (DS.api || (SCRIPT && SCRIPT.src ? new URL(SCRIPT.src, location.href).origin : location.origin)).replace(/\/+$/, '');
  const SITE_KEY = DS.siteKey || '';
  const STORE_KEY = 'nectarine:state';
  const LANG = String(DS.locale || navigator.language || 'en').toLowerCase().split('-')[0];
  const LOCALES = ['de', 'fr', 'es', 'pt', 'ja'];
  const MAX_ERRORS = 20, MAX_STORED_MESSAGES = 60, MAX_LOG_CHARS = 600000;

  // ================================================================== interface strings
  // English here; the other languages are fetched from the API host once (web/locales/*.json), so the
  // bundle does not carry every language. Answers themselves stay in English (Nectain's support language).
  const EN = {
    launch: 'Ask Nectarine', launchLabel: 'Ask Nectarine, the Nectain assistant', panel: 'Nectarine assistant',
    contact: 'Contact support', newChat: 'New chat', newChatTitle: 'Start a new conversation', close: 'Close assistant',
    question: 'Your question', placeholder: 'Ask about Nectain…', send: 'Send', stop: 'Stop', conversation: 'Conversation',
    empty: 'Hi! Ask me anything about Nectain. I answer from the documentation and cite my sources.', examples: 'Try asking',
    dismiss: 'Dismiss', retry: 'Retry', you: 'You: ', bot: 'Nectarine: ', source: 'Source {n}: {s}', sources: 'Sources',
    confHigh: 'Confident', confMed: 'Check the sources', confLow: 'Low confidence — consider contacting support', conf: 'Confidence {n}%',
    helpful: 'Helpful', unhelpful: 'Not helpful', wasHelpful: 'Was this helpful?', canHelp: 'Our support team can help with this.',
    thanks: 'Thanks for the feedback.', wrong: 'What was wrong or missing? (optional)', sendComment: 'Send comment',
    unsolved: 'Didn’t solve it?', moreHelp: 'Get more help', copy: 'Copy', copied: 'Copied', copyAnswer: 'Copy answer', copyCode: 'Copy code',
    back: '← Back', openDocs: 'Open in docs ↗', versions: 'Applies to versions: {s}', loading: 'Loading…', updated: 'Updated {s}',
    unavailable: 'The full passage could not be loaded; this is the quoted part.',
    tooQuick: 'You are sending messages too quickly. Please wait {n} s and try again.', http: 'Something went wrong (HTTP {n}). Please try again.',
    network: 'Could not reach Nectarine. Check your connection and try again.', answering: 'Nectarine is answering…',
    ready: 'Answer ready: ', failed: 'The answer failed.', leftPage: 'This answer was interrupted when the page changed. Please ask again.',
    notCompleted: 'The answer could not be completed.', incomplete: 'The connection was lost: this answer is incomplete.',
    stopped: 'You stopped this answer.', connLost: 'The connection was interrupted. Please try again.',
    shareUa: 'Browser and operating system (user agent)', shareLang: 'Language', shareTz: 'Time zone', shareScreen: 'Screen size',
    sharePage: 'Page address', shareErrors: 'Recent errors on this page', describe: 'Please describe the problem first', next: 'Continue',
    preparing: 'Preparing your ticket…', notPrepared: 'The ticket could not be prepared.', tryAgain: 'Try again',
    review: 'Review and edit everything below before sending. Nothing is sent until you press “Submit ticket”.',
    removed: 'For your safety, we removed {s} before anything was stored.', missing: 'Support will also need — please add what you can:',
    title: 'Title', description: 'Description', version: 'Nectain version', versionHint: 'e.g. 4.3.1 (Help › About Nectain)',
    priority: 'Priority', Highest: 'Highest', High: 'High', Normal: 'Normal', Low: 'Low', suggested: 'Suggested: {s}',
    errors: 'Error messages (one per line)', language: 'Language: {s}', translated: ' — support works in English; your ticket will be translated.',
    summary: 'English summary', logs: 'Logs (Help › Diagnostics › Download logs)', paste: 'Or paste log lines here',
    logsNote: 'Logs are shortened to the relevant lines and secrets are removed before they are stored.', kept: 'kept {n} of {s} lines',
    remove: 'Remove', shared: 'Shared with support', noErrors: 'none captured', environment: 'Environment',
    alreadySuggested: 'Already suggested by Nectarine', expected: 'Expected first response: {s}.', day: 'within 24 hours',
    submit: 'Submit ticket', submitting: 'Submitting…', updating: 'Updating…', created: 'Ticket created: ',
    createdPrio: 'Priority: {n}. Expected first response: {s}.', willContact: 'Our support team will contact you. You can keep chatting with Nectarine meanwhile.',
    toChat: 'Back to chat', fillIn: 'Please fill in a title and a description.', notPreparedRetry: 'The ticket could not be prepared. Please try again.',
    ticketMsg: 'Support ticket {s} created (priority {n}).', ticketSaid: 'Ticket {s} created.',
  };
  let L = {};
  /** The interface string ``k`` in the user's language, with {n} and {s} filled in. */
  const T = (k, n, s) => String(L[k] || EN[k] || k).replace('{n}', () => n).replace('{s}', () => s);

  // ================================================================== env capture
  // Installed at load, before the panel exists, so errors from the whole page visit are kept.
  const consoleErrors = [];
  function keepError(msg) {
    const s = String(msg || '').trim();
    if (!s) return;
    consoleErrors.push(s.slice(0, 500));
    if (consoleErrors.length > MAX_ERRORS) consoleErrors.shift();
  }
  const describe = (v) => {
    if (v instanceof Error) return v.stack && v.stack.includes(v.message) ? v.stack : `${v.name}: ${v.message}`;
    if (typeof v === 'string') return v;
    try { return JSON.stringify(v); } catch { return String(v); }
  };
  window.addEventListener('error', (e) => {
    if (e.error || e.message) keepError(e.error ? describe(e.error) : `${e.message} (${e.filename || '?'}:${e.lineno || 0})`);
  });
  window.addEventListener('unhandledrejection', (e) => keepError('Unhandled rejection: ' + describe(e.reason)));
  const originalConsoleError = console.error;
  console.error = function (...args) {
    try { keepError(args.map(describe).join(' ')); } catch { /* never break the host's logging */ }
    return originalConsoleError.apply(this, args);
  };

  /** What the panel knows about the user's environment (AskContext on the server). */
  function env() {
    let tz = null;
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { /* old browser */ }
    return Object.assign({
      user_agent: navigator.userAgent,
      language: navigator.language,
      time_zone: tz,
      screen: `${screen.width}x${screen.height}`,
      page_url: location.href,
      version: DS.productVersion || null,
      console_errors: consoleErrors.slice(),
    }, state.context, { session_id: state.session_id });
  }

  // ================================================================== state
  // Persisted in sessionStorage so the conversation survives navigation within the tab.
  // So is a ticket being written (its draft, the user's edits and logs), and whether its form was open.
  const state = { open: false, session_id: null, messages: [], context: {}, view: 'chat' };
  let ticket = null; // {key, draft, share, edits, files, pasted, drafted, busy, loading, problem, done}
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
    if (saved && Array.isArray(saved.messages)) {
      state.open = !!saved.open;
      state.session_id = saved.session_id || null;
      state.messages = saved.messages;
      if (saved.ticket && saved.ticket.key) {
        ticket = Object.assign({ share: {}, edits: {}, files: [], pasted: '', drafted: '' }, saved.ticket);
        state.view = saved.view === 'ticket' ? 'ticket' : 'chat';
      }
      (saved.errors || []).forEach(keepError); // errors seen on earlier pages of this visit
      for (const m of state.messages) if (m.state === 'streaming') { // navigated away mid-answer
        m.state = 'done';
        m.notes = (m.notes || []).concat(T('leftPage'));
      }
    }
  } catch { /* storage disabled or corrupt: start fresh */ }

  function save() {
    state.messages = state.messages.slice(-MAX_STORED_MESSAGES);
    const open = ticket && !ticket.done ? ticket : null;
    const keep = open && { key: open.key, draft: open.draft, share: open.share, edits: open.edits, problem: open.problem,
      files: open.files, pasted: open.pasted, drafted: open.drafted };
    const snapshot = (t) => JSON.stringify({ open: state.open, session_id: state.session_id, messages: state.messages,
      errors: consoleErrors, ticket: t, view: state.view });
    try {
      sessionStorage.setItem(STORE_KEY, snapshot(keep));
    } catch {
      // Over the storage quota, most likely with big logs: keep the rest, and the logs the draft already holds.
      try { sessionStorage.setItem(STORE_KEY, snapshot(keep && { ...keep, files: [], pasted: '', drafted: '' })); } catch { /* privacy mode */ }
    }
  }

  // A navigation aborts a streaming answer: keep what arrived, and show it as interrupted on the next page.
  let leaving = false;
  window.addEventListener('beforeunload', () => { leaving = true; });
  window.addEventListener('pagehide', () => { leaving = true; save(); });

  let seq = 0;
  const uid = () => Date.now().toString(36) + (seq++).toString(36) + Math.random().toString(36).slice(2, 6);
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID(); // needs a secure context
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const x = [...b].map((n) => n.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  // ================================================================== api
  const headers = (extra) => Object.assign({ 'X-Site-Key': SITE_KEY }, extra);

  /** A user-facing message for a failed response (429 gets the polite rate-limit text). */
  async function errorText(res) {
    if (res.status === 429) {
      const ra = res.headers.get('Retry-After');
      let secs = parseInt(ra, 10);
      if (isNaN(secs) && ra) secs = Math.ceil((Date.parse(ra) - Date.now()) / 1000);
      secs = Math.max(1, isNaN(secs) ? 30 : secs);
      return T('tooQuick', secs);
    }
    let detail = '';
    try {
      const body = await res.json();
      detail = body.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => (d && d.msg) || JSON.stringify(d)).join('; ');
      else if (detail && typeof detail !== 'string') detail = JSON.stringify(detail);
    } catch { /* not JSON */ }
    return detail || T('http', res.status);
  }


  /** JSON request; resolves to the parsed body (null for 204), rejects with a user-facing Error. */
  async function api(method, path, body, extra) {
    let res;
    try {
      res = await fetch(API + path, {
        method, headers: headers(Object.assign(body ? { 'Content-Type': 'application/json' } : {}, extra)),
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch { throw new Error(T('network')); }
    if (!res.ok) throw new Error(await errorText(res));
    return res.status === 204 ? null : res.json();
  }

  /** Reads a text/event-stream body, calling onEvent(name, data) for each event. */
  async function readSSE(res, onEvent) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const dispatch = (raw) => {
      let name = 'message';
      const data = [];
      for (const line of raw.split(/\r\n|\r|\n/)) {
        if (!line || line[0] === ':') continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
      }
      if (!data.length) return;
      let parsed;
      try { parsed = JSON.parse(data.join('\n')); } catch { parsed = { text: data.join('\n') }; }
      onEvent(name, parsed || {});
    };
    for (;;) {
      const { value, done } = await reader.read();
      buf += dec.decode(value || new Uint8Array(), { stream: !done });
      let m;
      while ((m = /\r\n\r\n|\n\n|\r\r/.exec(buf))) {
        dispatch(buf.slice(0, m.index));
        buf = buf.slice(m.index + m[0].length);
      }
      if (done) break;
    }
    if (buf.trim()) dispatch(buf);
  }

  // ================================================================== markdown
  // A tiny, safe Markdown renderer: it builds DOM nodes with createElement and text nodes only.
  // Raw HTML in the source stays visible, inert text. Links are kept only for http(s) URLs; any other
  // link shows as its text, and an image (never loaded) as its alt text.

  /** A DOM element; props become attributes (on* → listeners); string children become text nodes. */
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    return put(el, kids);
  }

  /** Appends the non-empty children (Node.append would turn null into the text "null"). */
  const put = (parent, ...kids) => { for (const c of kids.flat(3)) if (c != null && c !== false) parent.append(c); return parent; };

  /** The URL if it is an absolute http(s) URL, else null (javascript:, data:, relative…). */
  function safeUrl(url) {
    try {
      const u = new URL(String(url).trim());
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch { return null; }
  }
  function link(text, url) {
    const href = safeUrl(url);
    if (!href) return null;
    const a = h('a', { target: '_blank', rel: 'noopener noreferrer' }, text);
    a.href = href;
    return a;
  }

  // code | link | bold | italic | citation markers [1] or [1, 2] | image
  const INLINE = /`([^`\n]+)`|\[((?:!\[[^\]\n]*\]\([^()\s]*\)|[^\]\n])*)\]\(((?:[^()\s]|\([^()\s]*\))+)(?:\s+"[^"]*")?\)|\*\*(?=\S)([^\n]*?\S)\*\*|(?<!\w)__(?=\S)([^\n]*?\S)__(?!\w)|\*(?=[^\s*])([^*\n]*?[^\s*])\*|(?<![\w])_(?=\S)([^_\n]*?\S)_(?![\w])|\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]|!\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+"[^"]*")?\)/g;

  function inline(text, opts, out) {
    out = out || document.createDocumentFragment();
    let last = 0, m;
    const re = new RegExp(INLINE.source, 'g');
    const lines = (s) => s.split('\n').forEach((part, i) => { if (i) out.append(h('br')); if (part) out.append(part); });
    while ((m = re.exec(text))) {
      if (m.index > last) lines(text.slice(last, m.index));
      last = re.lastIndex;
      if (m[1] != null) out.append(h('code', null, m[1]));
      else if (m[2] != null) { // a link whose URL is not http(s) (javascript:, #, relative…) is its text alone
        const t = inline(m[2], opts);
        out.append(link(m[2] ? t : m[3], m[3]) || t);
      }
      else if (m[4] != null || m[5] != null) out.append(h('strong', null, inline(m[4] ?? m[5], opts)));
      else if (m[6] != null || m[7] != null) out.append(h('em', null, inline(m[6] ?? m[7], opts)));
      else if (m[8] != null) {
        const nums = m[8].split(',').map((n) => parseInt(n, 10));
        const chips = opts && opts.cite ? nums.map(opts.cite) : [];
        if (chips.length && chips.every(Boolean)) chips.forEach((c) => out.append(c));
        else out.append(m[0]);
      } else if (m[9]) out.append(m[9]); // an image is never loaded: its alt text, if any
    }
    if (last < text.length) lines(text.slice(last));
    return out;
  }

  const isTableSep = (l) => l.includes('-') && /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/.test(l);
  const cells = (l) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  const LIST = /^(\s*)([-*+]|\d{1,3}[.)])\s+(.*)$/;

  /** Markdown text → DocumentFragment. opts.cite(n) may return a node for a [n] marker. */
  // The server escapes raw HTML in answer prose, so that the text is inert for any client. This panel
  // only ever creates text nodes, so it shows the characters themselves ("<img ...>", not "&lt;img").
  const ENTITIES = { lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", amp: '&' };
  function unescapeEntities(s) {
    return String(s || '').replace(/&(lt|gt|quot|#39|#x27|amp);/g, (_, e) => ENTITIES[e]);
  }

  function markdown(src, opts) {
    const out = document.createDocumentFragment();
    const L = String(src || '').replace(/\r\n?/g, '\n').split('\n');
    let i = 0;
    while (i < L.length) {
      const line = L[i];
      let m;
      if (!line.trim()) { i++; continue; }
      if ((m = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line))) { // fenced code (unclosed: runs to the end)
        const body = [];
        for (i++; i < L.length && !L[i].trim().startsWith(m[1]); i++) body.push(L[i]);
        i++;
        const code = body.join('\n');
        out.append(h('div', { class: 'code' }, h('pre', null, h('code', m[2] ? { 'data-lang': m[2] } : null, code)),
          copyButton(T('copyCode'), 'nectarine-copy-code', () => code)));
      } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        out.append(h('h' + Math.min(6, m[1].length + 2), { class: 'md-h' }, inline(m[2], opts)));
        i++;
      } else if (line.includes('|') && i + 1 < L.length && isTableSep(L[i + 1])) {
        const head = cells(line);
        const rows = [];
        for (i += 2; i < L.length && L[i].includes('|') && L[i].trim(); i++) rows.push(cells(L[i]));
        out.append(h('div', { class: 'table' }, h('table', null,
          h('thead', null, h('tr', null, head.map((c) => h('th', null, inline(c, opts))))),
          h('tbody', null, rows.map((r) => h('tr', null, head.map((_, j) => h('td', null, inline(r[j] || '', opts)))))))));
      } else if (/^\s*>/.test(line)) {
        const body = [];
        for (; i < L.length && /^\s*>/.test(L[i]); i++) body.push(L[i].replace(/^\s*> ?/, ''));
        out.append(h('blockquote', null, markdown(body.join('\n'), opts)));
      } else if ((m = LIST.exec(line))) {
        const ordered = /\d/.test(m[2]);
        const list = h(ordered ? 'ol' : 'ul');
        if (ordered && parseInt(m[2], 10) !== 1) list.setAttribute('start', parseInt(m[2], 10));
        const indent = m[1].length;
        let item = null, lm2;
        for (; i < L.length; i++) {
          const lm = LIST.exec(L[i]);
          if (lm && lm[1].length <= indent + 1 && /\d/.test(lm[2]) === ordered) {
            item = [lm[3]];
            list.append(h('li'));
            list.lastChild._src = item;
          } else if (L[i].trim() && (/^\s/.test(L[i]) || !LIST.test(L[i])) && !/^\s*(`{3}|#|>)/.test(L[i]) &&
                     (/^\s{2,}/.test(L[i]) || (item && L[i - 1].trim()))) {
            item.push(L[i].replace(/^\s{1,4}/, '')); // continuation or nested list
          } else if (!L[i].trim() && i + 1 < L.length && /^\s{2,}\S/.test(L[i + 1])) {
            item.push('');
          } else if (!L[i].trim() && i + 1 < L.length && (lm2 = LIST.exec(L[i + 1])) && /\d/.test(lm2[2]) === ordered) {
            continue; // a "loose" list: items separated by blank lines
          } else break;
        }
        for (const li of list.children) {
          const sub = li._src;
          // a single-paragraph item renders inline; longer ones (nested lists) as blocks
          if (sub.length === 1) li.append(inline(sub[0], opts)); else li.append(markdown(sub.join('\n'), opts));
          delete li._src;
        }
        out.append(list);
      } else { // paragraph: consecutive lines, with line breaks kept
        const body = [];
        for (; i < L.length && L[i].trim() && !LIST.test(L[i]) && !/^\s*(`{3,}|~{3,}|#{1,6}\s|>)/.test(L[i]) &&
               !(L[i].includes('|') && i + 1 < L.length && isTableSep(L[i + 1])); i++) body.push(L[i]);
        out.append(h('p', null, inline(body.join('\n'), opts)));
      }
    }
    return out;
  }

  // ================================================================== rendering: shell
  // Colours are variables: .dark swaps them (the OS setting, data-theme or setTheme); every pair of text
  // and background colour meets WCAG AA (4.5:1) in both, checked by axe in tests/web/test_panel_a11y.py.
  const CSS = `
:host{all:initial!important;display:block!important}
*{box-sizing:border-box}
.root{--bg:#fff;--fg:#1f2328;--mu:#57606a;--bd:#d0d7de;--sb:#f6f8fa;--ln:#e1e4e8;--ac:#c2410c;--ah:#9a3412;--lk:#b8430a;--wb:#fff4e6;--wd:#ffa94d;--wf:#7a2e00;--ub:#fff0e6;--ud:#ffd8a8;--cd:#eaeef2;--gb:#d3f9d8;--gf:#1e6b2f;--yb:#fff3bf;--yf:#6b5200;--rb:#ffe3e3;--rf:#9b1c1c;--ib:#e7f5ff;--id:#a5d8ff;--fo:#1c7ed6;color-scheme:light;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);-webkit-font-smoothing:antialiased}
.dark{--bg:#1c2128;--fg:#e6edf3;--mu:#9da7b3;--bd:#545d68;--sb:#262c36;--ln:#373e47;--lk:#ffa657;--wb:#3d2611;--wd:#9a5b1a;--wf:#ffd8a8;--ub:#3a2a1f;--ud:#6e4a2e;--cd:#373e47;--gb:#12361c;--gf:#7ee2a8;--yb:#3b3011;--yf:#f2cc60;--rb:#4a1c1c;--rf:#ffa198;--ib:#102a43;--id:#1f6feb;--fo:#58a6ff;color-scheme:dark}
button,input,textarea,select{font:inherit;color:inherit;margin:0}
button{cursor:pointer;border:1px solid var(--bd);background:var(--bg);border-radius:6px;padding:5px 10px;line-height:1.3}
button:hover{background:var(--sb)}
button:disabled{opacity:.55;cursor:default}
.primary,.launcher,.thumbs [aria-pressed=true]{background:var(--ac);border-color:var(--ac);color:#fff;font-weight:600}
.primary:hover,.launcher:hover{background:var(--ah)}
button.link{border:0;background:none;padding:2px 4px;color:var(--lk);text-decoration:underline}
:focus-visible{outline:2px solid var(--fo);outline-offset:2px}
a{color:var(--lk)}
::placeholder{color:var(--mu);opacity:1}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;padding:11px 18px;border:0;border-radius:999px;font-size:15px;box-shadow:0 4px 14px rgba(0,0,0,.25)}
.launcher .dot{width:10px;height:10px;border-radius:50%;background:#ffd8a8}
.panel{position:fixed;right:20px;bottom:80px;z-index:2147483001;width:400px;height:min(640px,calc(100vh - 100px));display:flex;flex-direction:column;background:var(--bg);border-radius:12px;box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden;border:1px solid var(--bd)}
.panel[hidden],[hidden]{display:none!important}
header{display:flex;align-items:center;gap:6px;padding:10px 12px;background:var(--ac);color:#fff}
header h2{flex:1;margin:0;font-size:15px;font-weight:600}
header button{white-space:nowrap;background:rgba(0,0,0,.18);border-color:rgba(255,255,255,.6);color:#fff;padding:4px 8px;font-size:13px}
header button:hover{background:rgba(0,0,0,.32)}
header :focus-visible{outline-color:#fff}
.alert,.cite,.box.handoff{background:var(--wb);border:1px solid var(--wd);color:var(--wf)}
.alert{margin:8px 12px 0;padding:8px 10px;border-radius:6px;display:flex;gap:8px;align-items:center}
.alert span{flex:1}
.view{flex:1;min-height:0;overflow:auto;padding:12px}
.chat{display:flex;flex-direction:column;padding:0}
.log{flex:1;overflow:auto;padding:12px;display:flex;flex-direction:column;gap:12px}
.empty{color:var(--mu);text-align:center;margin:auto;padding:20px}
.ex{display:flex;flex-direction:column;align-items:center;gap:6px;margin-top:14px}
.ex button{border-radius:16px;color:var(--fg);text-align:left}
.msg{max-width:92%;overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--ub);border:1px solid var(--ud);padding:7px 11px;border-radius:12px 12px 2px 12px;white-space:pre-wrap}
.bot{align-self:flex-start;background:var(--sb);border:1px solid var(--ln);padding:8px 11px;border-radius:12px 12px 12px 2px}
.sys{align-self:center;font-size:12px;color:var(--mu)}
.bot p,.src-text p{margin:0 0 8px}.bot>.body>:last-child{margin-bottom:0}
.bot ul,.bot ol,.src-text ul,.src-text ol{margin:0 0 8px;padding-left:22px}
.md-h{font-size:14px;margin:8px 0 4px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;background:var(--cd);padding:1px 4px;border-radius:4px}
.code{position:relative}
.code button{position:absolute;top:4px;right:4px;font-size:11px;padding:1px 6px}
pre{background:#24292f;color:#f6f8fa;padding:8px 10px;border-radius:6px;overflow:auto;margin:0 0 8px;border:1px solid var(--bd)}
pre code{background:none;padding:0;color:inherit;white-space:pre}
blockquote{margin:0 0 8px;padding-left:10px;border-left:3px solid var(--bd);color:var(--mu)}
.table{overflow:auto;margin-bottom:8px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid var(--bd);padding:3px 7px;text-align:left}
.cite{display:inline-block;min-width:20px;padding:0 5px;margin:0 1px;font-size:11px;line-height:17px;border-radius:9px;vertical-align:1px}
.sources{display:flex;flex-wrap:wrap;gap:5px;margin-top:8px}
.sources .cite{border-radius:6px;font-size:12px;padding:2px 7px;line-height:1.3;text-align:left;max-width:100%}
.meta{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;font-size:12px;color:var(--mu)}
.meta button{font-size:12px;padding:2px 7px}
.conf{padding:1px 7px;border-radius:9px;font-weight:600}
.high{background:var(--gb);color:var(--gf)}.medium{background:var(--yb);color:var(--yf)}.low{background:var(--rb);color:var(--rf)}
.bot .notes{margin:6px 0 0;padding:0;list-style:none;font-size:12px;color:var(--mu)}
.thumbs{margin-left:auto;display:flex;gap:4px}
.thumbs button{padding:2px 6px;display:flex}
.thumbs svg{width:15px;height:15px;fill:currentColor}
.thumbs .down svg{transform:rotate(180deg)}
.box{margin-top:8px;padding:8px;border-radius:6px;background:var(--bg);border:1px solid var(--ln);display:flex;flex-direction:column;gap:6px}
.row{display:flex;gap:6px;flex-wrap:wrap;align-items:center}
.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--ln)}
textarea,input[type=text],select{width:100%;border:1px solid var(--bd);border-radius:6px;padding:6px 8px;background:var(--bg);resize:vertical}
.composer textarea{resize:none;height:40px;max-height:120px}
.src h3,.ticket h3{margin:4px 0;font-size:16px}
.path,.hint{color:var(--mu);font-size:12px}
.src-text{margin:10px 0;padding:10px;background:var(--sb);border-radius:6px;overflow-wrap:anywhere}
.ticket label,.ticket legend{display:block;font-weight:600;font-size:13px;margin:10px 0 3px}
.ticket fieldset{border:1px solid var(--ln);border-radius:6px;margin:10px 0 0;padding:4px 10px 8px}
.ticket fieldset label{font-weight:400;display:flex;gap:6px;align-items:flex-start;margin:4px 0}
.ticket dl{margin:4px 0;font-size:12px;display:grid;grid-template-columns:auto 1fr;gap:2px 8px}
.ticket dt{color:var(--mu)}.ticket dd{margin:0;overflow-wrap:anywhere}
.ticket ul{margin:4px 0;padding-left:20px;font-size:13px}
.missing,.redact{border-radius:6px;padding:6px 10px;margin-top:10px;font-size:13px}
.missing{background:var(--yb);border:1px solid var(--wd)}
.redact{background:var(--ib);border:1px solid var(--id)}
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:14px;position:sticky;bottom:-12px;background:var(--bg);padding:8px 0}
.done{text-align:center;padding:20px 8px}
.done strong{font-size:16px}
.sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:479px){.panel{inset:0;width:100%;height:100%;border-radius:0;border:0}textarea,input[type=text],select{font-size:16px}}
@media (prefers-reduced-motion:no-preference){.streaming .body::after{content:"▍";animation:blink 1s steps(2) infinite;color:var(--lk)}@keyframes blink{50%{opacity:0}}}
`;

  let shadow, root, launcher, panel, alertBox, statusBox, log, input, sendBtn, views = {};
  const nodes = new Map(); // message id → its element in the log

  function sheet(root) {
    try { // constructable stylesheets also work under a strict style-src CSP
      const s = new CSSStyleSheet();
      s.replaceSync(CSS);
      root.adoptedStyleSheets = [s];
    } catch { root.append(h('style', null, CSS)); }
  }

  // The theme: data-theme or setTheme() ("light", "dark"), else the OS setting, followed live ("auto").
  const THEMES = ['light', 'dark', 'auto'];
  let theme = THEMES.includes(DS.theme) ? DS.theme : 'auto';
  const darkOS = matchMedia('(prefers-color-scheme: dark)');
  const paint = () => root && root.classList.toggle('dark', theme === 'dark' || (theme === 'auto' && darkOS.matches));
  darkOS.addEventListener && darkOS.addEventListener('change', paint);

  // The shortcut ("mod" is ⌘ on a Mac, Ctrl elsewhere). It runs last (on window, bubbling), so a page that
  // handles the same keys itself (and calls preventDefault) keeps them.
  const MAC = /Mac|iP(hone|ad)/.test(navigator.platform);
  const KEYS = String(DS.shortcut || 'mod+k').toLowerCase().replace('mod', MAC ? 'meta' : 'ctrl').split('+');
  const KEY = KEYS[KEYS.length - 1];
  const pressed = (e) => KEYS[0] !== 'off' && !e.defaultPrevented && !e.repeat &&
    ((e.key || '').toLowerCase() === KEY || e.code === 'Key' + KEY.toUpperCase()) && // e.code: Option+N on a Mac types "˜"
    ['ctrl', 'meta', 'alt', 'shift'].every((m) => e[m + 'Key'] === KEYS.includes(m));
  const KEY_NAMES = { ctrl: 'Control', meta: 'Meta', alt: 'Alt', shift: 'Shift' };

  function build() {
    const host = h('nectarine-widget', { id: 'nectarine-root' });
    shadow = host.attachShadow({ mode: 'open' });
    sheet(shadow);
    root = h('div', { class: 'root', lang: L.lang || 'en' });
    paint();
    const keys = KEYS[0] === 'off' ? null : KEYS.map((k) => KEY_NAMES[k] || k.toUpperCase()).join('+');
    launcher = h('button', {
      class: 'launcher', type: 'button', 'aria-label': T('launchLabel'), 'aria-expanded': 'false', 'aria-keyshortcuts': keys,
      title: keys && `${T('launch')} (${keys.replace('Control', 'Ctrl').replace('Meta', '⌘')})`,
      'aria-controls': 'nectarine-panel', 'data-testid': 'nectarine-launcher', onclick: () => (state.open ? close() : open()),
    }, h('span', { class: 'dot', 'aria-hidden': 'true' }), T('launch'));
    alertBox = h('div', { class: 'alert', role: 'alert', 'data-testid': 'nectarine-alert', hidden: true });
    statusBox = h('div', { class: 'sr', role: 'status', 'aria-live': 'polite' });
    log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': T('conversation') });
    input = h('textarea', {
      'aria-label': T('question'), placeholder: T('placeholder'), rows: 1, maxlength: 4000, 'data-testid': 'nectarine-input',
      onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } },
    });
    sendBtn = h('button', { class: 'primary', type: 'button', 'data-testid': 'nectarine-send', onclick: () => (busy ? busy.abort() : send()) }, T('send'));
    views.chat = h('div', { class: 'view chat' }, log, h('div', { class: 'composer' }, input, sendBtn));
    views.source = h('div', { class: 'view src', 'data-testid': 'nectarine-source', hidden: true });
    views.ticket = h('div', { class: 'view ticket', 'data-testid': 'nectarine-ticket-form', hidden: true });
    panel = h('div', {
      class: 'panel', id: 'nectarine-panel', role: 'dialog', 'aria-label': T('panel'), 'aria-modal': 'false',
      'data-testid': 'nectarine-panel', hidden: true,
    },
    h('header', null,
      h('h2', null, 'Nectarine'),
      h('button', { type: 'button', 'data-testid': 'nectarine-contact', onclick: () => openTicket() }, T('contact')),
      h('button', { type: 'button', title: T('newChatTitle'), onclick: newChat }, T('newChat')),
      h('button', { type: 'button', 'aria-label': T('close'), onclick: () => close() }, '✕')),
    alertBox, views.chat, views.source, views.ticket, statusBox);
    root.append(launcher, panel);
    shadow.append(root);
    document.body.append(host);
    // Escape closes the panel when the focus is in it (or nowhere in particular), and returns it to the launcher.
    document.addEventListener('keydown', (e) => {
      const a = document.activeElement;
      if (e.key === 'Escape' && state.open && (a === host || a === document.body || !a)) close();
    });
    window.addEventListener('keydown', (e) => {
      if (!pressed(e)) return;
      e.preventDefault();
      if (state.open && shadow.activeElement) close(); else open();
    });
    renderLog();
    if (state.open) open(false);
    if (state.open && state.view === 'ticket' && ticket) openTicket(false); // the form the user was filling in on the last page
    window.addEventListener('hashchange', fromHash);
    fromHash();
    if (queued != null) ask(queued);
  }

  /** #nectarine=<question> asks once: the hash is removed, so a reload does not ask again. */
  function fromHash() {
    const m = /^#nectarine=([^]*)$/.exec(location.hash);
    if (!m) return;
    let q = '';
    try { q = decodeURIComponent(m[1].replace(/\+/g, ' ')); } catch { /* malformed: ignore */ }
    history.replaceState(history.state, '', location.pathname + location.search);
    if (q.trim()) ask(q);
  }

  let queued = null; // a question asked before the panel was built
  function ask(q) {
    if (!panel) { queued = q; return; }
    queued = null;
    setView('chat');
    open();
    input.value = String(q).slice(0, 4000);
    send();
  }

  function open(focus = true) {
    state.open = true; save();
    panel.hidden = false;
    if (!examples && !state.messages.length) renderLog();
    launcher.setAttribute('aria-expanded', 'true');
    if (focus) setTimeout(() => (views.chat.hidden ? panel.querySelector('.view:not([hidden]) button, .view:not([hidden]) input') : input)?.focus(), 0);
    log.scrollTop = log.scrollHeight;
  }
  function close() {
    state.open = false; save();
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
  }
  function setView(name) {
    for (const [k, v] of Object.entries(views)) v.hidden = k !== name;
    state.view = name;
  }
  function showAlert(text, retry) {
    alertBox.textContent = '';
    if (!text) { alertBox.hidden = true; return; }
    put(alertBox, h('span', null, text),
      retry && h('button', { type: 'button', class: 'link', 'data-testid': 'nectarine-retry', onclick: () => { showAlert(''); retry(); } }, T('retry')),
      h('button', { type: 'button', class: 'link', 'aria-label': T('dismiss'), onclick: () => showAlert('') }, '✕'));
    alertBox.hidden = false;
  }
  const announce = (text) => { statusBox.textContent = ''; setTimeout(() => (statusBox.textContent = text), 50); };

  /** Copies text to the clipboard; the button says so for a moment. */
  async function copy(text, btn) {
    try { await navigator.clipboard.writeText(text); } catch { // not a secure context: the old way
      const ta = h('textarea', { class: 'sr' }); ta.value = text; shadow.append(ta); ta.select();
      document.execCommand('copy'); ta.remove(); btn.focus();
    }
    btn.textContent = T('copied'); announce(T('copied'));
    setTimeout(() => (btn.textContent = T('copy')), 1500);
  }
  const copyButton = (label, testid, get) => h('button', { type: 'button', 'aria-label': label, 'data-testid': testid,
    onclick: (e) => copy(get(), e.currentTarget) }, T('copy'));

  function newChat() {
    state.messages = []; state.session_id = null; ticket = null;
    save(); nodes.clear(); renderLog(); setView('chat'); showAlert(''); input.focus();
  }

  // ================================================================== rendering: messages
  // Example questions: the page's own (data-examples), else the service's (set by an admin, or the most
  // asked questions that were answered well), fetched once.
  let examples = DS.examples ? DS.examples.split('|').map((x) => x.trim()).filter(Boolean) : null;
  function renderLog() {
    log.textContent = '';
    nodes.clear();
    if (!state.messages.length) {
      if (!examples && state.open) { // fetched when the panel first opens, not on every page view
        examples = [];
        api('GET', '/v1/examples').then((r) => { examples = r.examples || []; if (!state.messages.length) renderLog(); }, () => {});
      }
      log.append(h('div', { class: 'empty' }, h('p', null, T('empty')), examples && examples.length ? h('div', { class: 'ex', role: 'group', 'aria-label': T('examples') },
        h('span', { class: 'hint' }, T('examples')), examples.slice(0, 4).map((q) => h('button', { type: 'button', 'data-testid': 'nectarine-example', onclick: () => ask(q) }, q))) : null));
    }
    for (const m of state.messages) log.append(renderMessage(m));
    log.scrollTop = log.scrollHeight;
  }
  function rerender(m) {
    const old = nodes.get(m.id);
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    const el = renderMessage(m);
    if (old && old.isConnected) old.replaceWith(el); else { log.querySelector('.empty')?.remove(); log.append(el); }
    if (stick) log.scrollTop = log.scrollHeight;
  }

  const THUMB = 'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z';
  function thumbIcon() {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24'); svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(NS, 'path'); p.setAttribute('d', THUMB);
    svg.append(p);
    return svg;
  }
  const citeLabel = (c) => [c.title, ...(c.heading_path || []).filter((x) => x && x !== c.title)].join(' › ');
  /** An answer as plain text with its sources, for the clipboard. */
  const plain = (m) => [unescapeEntities(m.text), ...(m.citations || []).map((c, i) =>
    (i ? '' : `\n${T('sources')}:\n`) + `[${c.number}] ${citeLabel(c)}` + (safeUrl(c.url) ? ' — ' + safeUrl(c.url) : ''))].join('\n');

  function renderMessage(m) {
    let el;
    if (m.role === 'user') el = h('div', { class: 'msg user' }, h('span', { class: 'sr' }, T('you')), m.text);
    else if (m.role === 'system') el = h('div', { class: 'msg sys' }, m.text);
    else el = renderAnswer(m);
    nodes.set(m.id, el);
    return el;
  }

  function renderAnswer(m) {
    const byNum = new Map((m.citations || []).map((c) => [Number(c.number), c]));
    const chip = (c, label) => h('button', {
      type: 'button', class: 'cite', 'data-testid': 'nectarine-citation', 'data-number': c.number,
      'aria-label': T('source', c.number, citeLabel(c)), onclick: (e) => showSource(c, e.currentTarget),
    }, label);
    const cite = (n) => (byNum.has(n) ? chip(byNum.get(n), String(n)) : null);
    const done = m.state !== 'streaming';
    const el = h('div', {
      class: 'msg bot' + (done ? '' : ' streaming'), 'data-testid': 'nectarine-answer', 'data-state': m.state,
      'aria-busy': done ? 'false' : 'true',
    }, h('span', { class: 'sr' }, T('bot')), h('div', { class: 'body', lang: 'en' }, markdown(unescapeEntities(m.text), { cite })));
    if (!done) return el;

    if (m.citations && m.citations.length) {
      el.append(h('div', { class: 'sources', role: 'group', 'aria-label': T('sources') },
        m.citations.map((c) => chip(c, `[${c.number}] ${citeLabel(c)}`))));
    }
    if (m.notes && m.notes.length) el.append(h('ul', { class: 'notes' }, m.notes.map((n) => h('li', null, n))));
    if (m.handoff_recommended) {
      el.append(h('div', { class: 'box handoff', 'data-testid': 'nectarine-handoff' },
        h('span', { lang: m.handoff_reason ? 'en' : null }, m.handoff_reason || T('canHelp')),
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', 'data-testid': 'nectarine-contact', onclick: () => openTicket() }, T('contact')))));
    }
    const meta = h('div', { class: 'meta' });
    if (typeof m.confidence === 'number') {
      const [cls, text] = m.confidence >= 0.75 ? ['high', 'confHigh'] : m.confidence >= 0.5 ? ['medium', 'confMed'] : ['low', 'confLow'];
      meta.append(h('span', { class: 'conf ' + cls, 'data-testid': 'nectarine-confidence', 'data-level': cls,
        title: T('conf', Math.round(m.confidence * 100)) }, T(text)));
    }
    if (m.text) meta.append(copyButton(T('copyAnswer'), 'nectarine-copy-answer', () => plain(m)));
    if (m.turn_id != null) {
      const thumb = (up) => h('button', {
        type: 'button', class: up ? 'up' : 'down', 'aria-label': T(up ? 'helpful' : 'unhelpful'),
        'aria-pressed': String(m.feedback === up), 'data-testid': up ? 'nectarine-thumb-up' : 'nectarine-thumb-down',
        onclick: () => feedback(m, up),
      }, thumbIcon());
      meta.append(h('div', { class: 'thumbs', role: 'group', 'aria-label': T('wasHelpful') }, thumb(true), thumb(false)));
    }
    if (meta.childNodes.length) el.append(meta);
    if (m.feedback === false) el.append(moreHelp(m));
    return el;
  }

  /** After a thumbs down: an optional comment, and the way to a person. */
  function moreHelp(m) {
    const box = h('div', { class: 'box', 'data-testid': 'nectarine-more-help' });
    if (m.commented) box.append(h('span', { class: 'hint' }, T('thanks')));
    else {
      const ta = h('textarea', { rows: 2, maxlength: 2000, 'aria-label': T('wrong'), placeholder: T('wrong'), 'data-testid': 'nectarine-feedback-comment' });
      box.append(ta, h('div', { class: 'row' }, h('button', {
        type: 'button', 'data-testid': 'nectarine-feedback-send',
        onclick: async (e) => {
          if (!ta.value.trim()) return ta.focus();
          e.currentTarget.disabled = true;
          if (await feedback(m, false, ta.value.trim())) {
            m.commented = true; save(); rerender(m);
            nodes.get(m.id).querySelector('.box .primary')?.focus();
          }
          else e.currentTarget.disabled = false;
        },
      }, T('sendComment'))));
    }
    box.append(h('div', { class: 'row' }, h('span', { class: 'hint' }, T('unsolved')),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'nectarine-contact', onclick: () => openTicket() }, T('moreHelp'))));
    return box;
  }

  async function feedback(m, helpful, comment = null) {
    const prev = m.feedback;
    m.feedback = helpful; save();
    if (comment == null) {
      rerender(m);
      nodes.get(m.id).querySelector(helpful ? '.up' : '.down')?.focus();
    }
    try {
      await api('POST', '/v1/feedback', { turn_id: m.turn_id, helpful, comment, session_id: state.session_id });
      return true;
    } catch (err) {
      if (comment == null) { m.feedback = prev; save(); rerender(m); }
      showAlert(err.message);
      return false;
    }
  }

  // ================================================================== chat
  let busy = null; // the AbortController of the answer being streamed: the Send button stops it

  /** Takes messages out of the conversation (a failed or withdrawn question and its answer). */
  function drop(...ms) {
    state.messages = state.messages.filter((x) => !ms.includes(x));
    for (const x of ms) nodes.get(x.id)?.remove();
    if (!state.messages.length) renderLog();
    save();
  }

  async function send(again) {
    const text = (again || input.value).trim();
    if (!text || busy) return;
    const ctl = busy = new AbortController();
    sendBtn.textContent = T('stop');
    showAlert('');
    const user = { id: uid(), role: 'user', text };
    const ans = { id: uid(), role: 'assistant', text: '', state: 'streaming', citations: [] };
    state.messages.push(user, ans);
    if (!again) input.value = '';
    save(); rerender(user); rerender(ans);
    log.setAttribute('aria-busy', 'true'); // screen readers skip the deltas; the status region reads the result
    announce(T('answering'));
    const retry = () => { drop(user, ans); send(text); }; // the failed attempt goes, its partial text with it
    const undo = (msg, canRetry) => { // nothing was answered: take the question back into the input
      drop(user, ans);
      input.value = text; showAlert(msg, canRetry && (() => { input.value = ''; send(text); }));
    };
    try {
      let res;
      try {
        res = await fetch(API + '/v1/chat', {
          method: 'POST', headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
          body: JSON.stringify({ message: text, session_id: state.session_id, context: env() }), signal: ctl.signal,
        });
      } catch { return ctl.signal.aborted ? undo('') : undo(T('network'), true); }
      if (!res.ok || !res.body) return undo(await errorText(res));
      let frame = 0, failed = null, saved = Date.now();
      await readSSE(res, (name, data) => {
        if (data.session_id) state.session_id = data.session_id;
        if (name === 'delta') {
          ans.text += data.text || '';
          if (!frame) frame = requestAnimationFrame(() => { frame = 0; if (ans.state === 'streaming') rerender(ans); });
          if (Date.now() - saved > 500) { saved = Date.now(); save(); } // a navigation keeps the partial answer
        } else if (name === 'done') {
          const a = data.answer || {};
          Object.assign(ans, {
            text: a.text != null ? a.text : ans.text, citations: a.citations || [], confidence: a.confidence,
            handoff_recommended: !!a.handoff_recommended, handoff_reason: a.handoff_reason || null,
            notes: a.notes || [], language: a.language, turn_id: data.turn_id ?? null, feedback: null, state: 'done',
          });
        } else if (name === 'error') failed = data.detail || T('notCompleted');
      });
      if (ans.state === 'streaming') { // stream ended without "done"
        ans.state = 'error';
        ans.notes = [T(failed ? 'notCompleted' : 'incomplete')];
        if (!ans.text) return undo(failed || T('connLost'), true);
        showAlert(failed || T('connLost'), retry);
      }
      save(); rerender(ans);
      announce(ans.state === 'done' ? T('ready') + ans.text.replace(/\[\d+(?:,\s*\d+)*\]/g, '').slice(0, 600) : T('failed'));
    } catch (err) {
      if (leaving) return; // the page is going away: the next page shows the answer as interrupted
      if (!ans.text) return ctl.signal.aborted ? undo('') : undo(T('network'), true);
      // Stopped by the user, or the connection broke: what arrived stays, marked for what it is.
      ans.state = ctl.signal.aborted ? 'stopped' : 'error';
      ans.notes = [T(ctl.signal.aborted ? 'stopped' : 'incomplete')];
      save(); rerender(ans);
      if (ctl.signal.aborted) announce(T('stopped')); else showAlert(T('connLost'), retry);
    } finally {
      busy = null; sendBtn.textContent = T('send');
      log.setAttribute('aria-busy', 'false');
    }
  }

  // ================================================================== source view
  async function showSource(c, opener) {
    const back = h('button', { type: 'button', 'data-testid': 'nectarine-source-back', onclick: () => {
      setView('chat');
      (opener && opener.isConnected ? opener : input).focus();
    } }, T('back'));
    const v = views.source;
    const fill = (src, loading) => {
      v.textContent = '';
      const path = (src.heading_path || []).filter(Boolean).join(' › ');
      const docs = link(T('openDocs'), src.url);
      put(v, h('div', { class: 'row' }, back),
        h('h3', null, src.title || T('sources')),
        path ? h('div', { class: 'path' }, path) : null,
        src.versions && src.versions !== 'all' ? h('div', { class: 'hint' }, T('versions', 0, src.versions)) : null,
        src.date ? h('div', { class: 'hint', 'data-testid': 'nectarine-source-date' }, T('updated', 0, day(src.date))) : null,
        h('div', { class: 'src-text', 'aria-busy': String(!!loading) }, loading ? h('p', { class: 'hint' }, T('loading'))
          : src.text ? markdown(src.text) : h('blockquote', null, src.quote || '')),
        src.unavailable ? h('p', { class: 'hint' }, T('unavailable')) : null,
        docs ? h('p', null, docs) : null);
    };
    fill(c, true);
    setView('source');
    back.focus();
    try {
      const src = await api('GET', '/v1/sources/' + encodeURIComponent(c.chunk_id));
      if (!views.source.hidden) fill(Object.assign({}, c, src, { title: src.title || c.title, url: src.url || c.url, date: src.date || c.date }));
    } catch {
      if (!views.source.hidden) fill(Object.assign({}, c, { text: null, unavailable: true }));
    }
    if (!views.source.hidden) back.focus();
  }

  /** An ISO date ("2026-11-02") in the user's language: "2 November 2026". */
  function day(iso) {
    const d = new Date(String(iso).slice(0, 10));
    const lang = (L.lang || 'en') === LANG ? DS.locale || navigator.language : 'en'; // en-GB: 2 November; en-US: November 2
    return isNaN(d) ? String(iso) : d.toLocaleDateString(lang, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
  }

  // ================================================================== ticket form
  const SHARE = [
    ['user_agent', 'shareUa'], ['language', 'shareLang'], ['time_zone', 'shareTz'],
    ['screen', 'shareScreen'], ['page_url', 'sharePage'], ['console_errors', 'shareErrors'],
  ];
  // Environment fields in the draft that come from each shared item (unticked → removed on submit).
  const SHARE_ENV = { user_agent: ['user_agent', 'os', 'os_version', 'browser', 'browser_version', 'device'],
    language: ['locale'], time_zone: ['time_zone'], screen: ['screen'], page_url: ['page_url'] };
  const PRIORITIES = ['Highest', 'High', 'Normal', 'Low'];

  function conversation() {
    return state.messages.filter((m) => (m.role === 'user' || m.role === 'assistant') && m.text && m.state !== 'streaming')
      .slice(-60).map((m) => m.role === 'user' ? { role: 'user', content: m.text }
        : { role: 'assistant', content: m.text, citations: (m.citations || []).map((c) => ({ title: c.title, url: c.url, heading_path: c.heading_path })) });
  }

  function openTicket(focus = true) {
    if (!ticket || ticket.done) {
      ticket = { key: uuid(), draft: null, share: Object.fromEntries(SHARE.map(([k]) => [k, true])), edits: {}, files: [], pasted: '', drafted: '' };
    }
    showAlert('');
    setView('ticket');
    if (!ticket.draft && !ticket.loading && conversation().some((m) => m.role === 'user')) requestDraft();
    else renderTicket();
    if (focus) views.ticket.querySelector('textarea, input, select, button')?.focus();
  }

  function sharedContext() {
    const ctx = env();
    for (const [k] of SHARE) if (!ticket.share[k]) delete ctx[k];
    return ctx;
  }

  /** (Re)requests the draft: the server bounds and redacts logs, so it runs again when logs change. */
  function requestDraft() {
    const t = ticket;
    const conv = conversation();
    if (!conv.some((m) => m.role === 'user') && t.problem) conv.push({ role: 'user', content: t.problem });
    const logs = t.files.slice();
    if (t.pasted.trim()) logs.push({ name: 'pasted-log.txt', content: t.pasted });
    t.drafted = t.pasted;
    t.loading = true; renderTicket();
    t.pending = api('POST', '/v1/tickets/draft', {
      conversation: conv, context: sharedContext(),
      attachments: logs.map((l) => ({ name: l.name, kind: 'log', content: l.content })),
    }).then((d) => { t.draft = d; }, (err) => { showAlert(err.message); })
      .finally(() => { t.loading = false; if (ticket === t) renderTicket(); });
    return t.pending;
  }

  const field = (name, fallback) => (name in ticket.edits ? ticket.edits[name] : fallback);
  const edit = (name) => (e) => { ticket.edits[name] = e.target.value; };
  const plural = (n, word) => `${n} ${word.replace(/[-_]/g, ' ')}${n === 1 ? '' : 's'}`;

  function renderTicket() {
    const t = ticket, v = views.ticket;
    const focused = shadow.activeElement && shadow.activeElement.dataset.testid;
    v.textContent = '';
    const cancel = h('button', { type: 'button', onclick: () => { setView('chat'); input.focus(); } }, T('toChat'));
    v.append(h('h3', null, T('contact')));

    if (t.done) {
      v.append(h('div', { class: 'done', role: 'status', 'data-testid': 'nectarine-ticket-done', 'data-ticket-id': t.done.id },
        h('p', null, h('strong', null, T('created')), h('strong', { class: 'ticket-id' }, t.done.id)),
        h('p', null, T('createdPrio', T(t.done.priority) || t.done.priority, t.draft.expected_first_response || T('day'))),
        h('p', { class: 'hint' }, T('willContact')),
        cancel));
      return;
    }
    const hasUser = conversation().some((m) => m.role === 'user');
    if (!hasUser && !t.problem) { // nothing to draft from yet: ask for a description first
      const ta = h('textarea', { rows: 5, id: 'nt-problem', 'data-testid': 'ticket-problem', maxlength: 4000 });
      v.append(h('label', { for: 'nt-problem' }, T('describe')), ta,
        h('div', { class: 'actions' }, cancel, h('button', { type: 'button', class: 'primary', onclick: () => {
          if (!ta.value.trim()) return ta.focus();
          t.problem = ta.value.trim(); requestDraft();
        } }, T('next'))));
      return;
    }
    if (!t.draft) {
      put(v, h('p', { class: 'hint', role: 'status' }, T(t.loading ? 'preparing' : 'notPrepared')),
        t.loading ? null : h('div', { class: 'actions' }, cancel, h('button', { type: 'button', class: 'primary', onclick: requestDraft }, T('tryAgain'))));
      return;
    }
    const d = t.draft;
    const id = (n) => 'nt-' + n;
    const labelled = (name, text, el) => [h('label', { for: id(name) }, text), el];
    // one message per line (a multi-line message, e.g. a stack trace, is shown on one line)
    const errorsText = (d.error_messages || []).map((x) => x.replace(/\s*\n\s*/g, ' ⏎ ')).join('\n');
    const prio = field('priority', d.priority);

    v.append(h('p', { class: 'hint' }, T('review')));
    if (d.redactions && Object.keys(d.redactions).length) {
      v.append(h('div', { class: 'redact', 'data-testid': 'ticket-redactions' },
        T('removed', 0, Object.entries(d.redactions).map(([k, n]) => plural(n, k)).join(', '))));
    }
    if (d.missing_information && d.missing_information.length) {
      v.append(h('div', { class: 'missing', 'data-testid': 'ticket-missing' },
        h('strong', null, T('missing')),
        h('ul', null, d.missing_information.map((x) => h('li', null, x)))));
    }
    v.append(
      ...labelled('title', T('title'), h('input', { type: 'text', id: id('title'), 'data-testid': 'ticket-title', value: field('title', d.title), oninput: edit('title') })),
      ...labelled('description', T('description'), h('textarea', { id: id('description'), rows: 7, 'data-testid': 'ticket-description', value: field('description', d.description), oninput: edit('description') })),
      ...labelled('version', T('version'), h('input', { type: 'text', id: id('version'), 'data-testid': 'ticket-version', placeholder: T('versionHint'), value: field('version', d.nectain_version || ''), oninput: edit('version') })));
    const select = h('select', { id: id('priority'), 'data-testid': 'ticket-priority', onchange: edit('priority') }, PRIORITIES.map((p) => h('option', { value: p }, T(p))));
    select.value = prio;
    v.append(...labelled('priority', T('priority'), select),
      h('div', { class: 'hint', 'data-testid': 'ticket-priority-rationale' }, T('suggested', 0, T(d.priority) + (d.priority_rationale ? ' — ' + d.priority_rationale : ''))),
      ...labelled('errors', T('errors'), h('textarea', { id: id('errors'), rows: 3, 'data-testid': 'ticket-errors', value: field('errors', errorsText), oninput: edit('errors') })));

    // language and English summary
    v.append(h('div', { class: 'hint' }, T('language', 0, d.language || 'en') + (d.needs_translation ? T('translated') : '')));
    if (d.english_summary != null || d.needs_translation) {
      v.append(...labelled('summary', T('summary'), h('textarea', { id: id('summary'), rows: 3, 'data-testid': 'ticket-summary', value: field('summary', d.english_summary || ''), oninput: edit('summary') })));
    }

    // logs: a file, or pasted text; each change re-requests the draft so the server bounds and redacts them
    const fileInput = h('input', { type: 'file', id: id('logfile'), accept: '.log,.txt,.json,.csv,text/*', multiple: true, 'data-testid': 'ticket-log-file',
      onchange: async (e) => {
        for (const f of [...e.target.files].slice(0, 3)) {
          const text = await (f.size > MAX_LOG_CHARS ? f.slice(f.size - MAX_LOG_CHARS) : f).text(); // a huge log: its end
          t.files = t.files.filter((x) => x.name !== f.name).concat({ name: f.name, content: text });
        }
        requestDraft();
      } });
    const pasted = h('textarea', { id: id('log'), rows: 3, 'data-testid': 'ticket-log', placeholder: T('paste'), value: t.pasted,
      oninput: (e) => { t.pasted = e.target.value; }, onchange: () => { if (t.pasted !== t.drafted) requestDraft(); } });
    v.append(h('label', { for: id('logfile') }, T('logs')), fileInput, pasted,
      h('div', { class: 'hint' }, T('logsNote')));
    if (d.logs && d.logs.length) {
      v.append(h('ul', { 'data-testid': 'ticket-logs' }, d.logs.map((l) => h('li', null,
        `${l.name}: ` + (l.note || T('kept', l.kept_lines, l.total_lines)) + (l.error_lines && l.error_lines.length ? ` · ${plural(l.error_lines.length, 'error line')} ` : ' '),
        t.files.some((f) => f.name === l.name) ? h('button', { type: 'button', class: 'link', onclick: () => { t.files = t.files.filter((f) => f.name !== l.name); requestDraft(); } }, T('remove')) : null))));
    }

    // what is shared with support
    const e = env();
    v.append(h('fieldset', null, h('legend', null, T('shared')),
      SHARE.map(([k, label]) => {
        const val = k === 'console_errors' ? (consoleErrors.length ? plural(consoleErrors.length, 'error') : T('noErrors')) : e[k];
        return h('label', null, h('input', { type: 'checkbox', 'data-testid': 'share-' + k, checked: t.share[k],
          onchange: (ev) => { t.share[k] = ev.target.checked; requestDraft(); } }),
        h('span', null, T(label) + ': ', h('span', { class: 'hint' }, String(val || '—').slice(0, 160))));
      }),
      consoleErrors.length ? h('ul', { class: 'hint', 'data-testid': 'ticket-console-errors' }, consoleErrors.map((x) => h('li', null, x.slice(0, 200)))) : null));

    const envRows = Object.entries(d.environment || {}).flatMap(([k, val]) => k === 'other' ? Object.entries(val || {}) : [[k, val]]).filter(([, val]) => val);
    if (envRows.length) {
      v.append(h('label', null, T('environment')), h('dl', { 'data-testid': 'ticket-environment' }, envRows.map(([k, val]) => [h('dt', null, k.replace(/_/g, ' ')), h('dd', null, String(val))])));
    }
    if (d.already_suggested && d.already_suggested.length) {
      v.append(h('label', null, T('alreadySuggested')), h('ul', { 'data-testid': 'ticket-suggested' },
        d.already_suggested.map((s) => h('li', null, link(s.title || s.url, s.url) || (s.title || s.url)))));
    }
    v.append(h('p', { class: 'hint' }, T('expected', 0, d.expected_first_response || T('day'))));

    const submit = h('button', { type: 'button', class: 'primary', 'data-testid': 'ticket-submit', disabled: t.busy || t.loading, onclick: submitTicket },
      T(t.busy ? 'submitting' : t.loading ? 'updating' : 'submit'));
    v.append(h('div', { class: 'actions' }, cancel, submit));
    if (focused) v.querySelector(`[data-testid="${focused}"]`)?.focus();
  }

  /** The draft with the user's edits applied and unshared environment removed. */
  function editedDraft() {
    const t = ticket, d = JSON.parse(JSON.stringify(t.draft));
    d.title = field('title', d.title).trim();
    d.description = field('description', d.description);
    d.nectain_version = field('version', d.nectain_version || '').trim() || null;
    if ('version' in t.edits && d.nectain_version) d.version_source = 'panel';
    if ('errors' in t.edits) d.error_messages = t.edits.errors.split('\n').map((x) => x.trim()).filter(Boolean);
    if ('summary' in t.edits) d.english_summary = t.edits.summary.trim() || null;
    for (const [k, fields] of Object.entries(SHARE_ENV)) if (!t.share[k]) for (const f of fields) d.environment[f] = null;
    if (!t.share.console_errors) {
      d.error_messages = d.error_messages.filter((x) => !consoleErrors.some((c) => c.startsWith(x.slice(0, 60)) || x.startsWith(c.slice(0, 60))));
    }
    return d;
  }

  async function submitTicket() {
    const t = ticket;
    if (t.busy) return; // a double click makes one request (and the Idempotency-Key makes one ticket anyway)
    t.busy = true; renderTicket();
    try {
      await t.pending;
      if (t.pasted !== t.drafted) await requestDraft(); // pasted log not yet bounded and redacted by the server
      if (!t.draft) throw new Error(T('notPreparedRetry'));
      const draft = editedDraft();
      if (!draft.title || !draft.description.trim()) throw new Error(T('fillIn'));
      const chosen = field('priority', t.draft.priority);
      const res = await api('POST', '/v1/tickets', { draft, priority: chosen !== t.draft.priority ? chosen : null }, { 'Idempotency-Key': t.key });
      t.done = res;
      state.messages.push({ id: uid(), role: 'system', text: T('ticketMsg', res.priority, res.id) });
      save(); rerender(state.messages[state.messages.length - 1]);
      showAlert('');
      announce(T('ticketSaid', 0, res.id));
    } catch (err) {
      showAlert(err.message);
    } finally {
      t.busy = false;
      if (ticket === t) renderTicket();
      if (t.done) views.ticket.querySelector('button')?.focus();
    }
  }

  // ================================================================== boot
  window.Nectarine = {
    __ready: true,
    open: () => (panel ? open() : (state.open = true)),
    close: () => (panel ? close() : (state.open = false)),
    /** Opens the panel and asks: e.g. from the page's own search box ("Ask Nectarine about …"). */
    ask(text) { if (String(text || '').trim()) ask(String(text)); },
    setTheme(name) {
      if (!THEMES.includes(name)) throw new TypeError(`Nectarine.setTheme: use one of ${THEMES.join(', ')}, not ${name}`);
      theme = name; paint();
    },
    /** Merges host-page context (e.g. {version, page_url, user_id}) into what the panel sends. */
    setContext(ctx) { if (ctx && typeof ctx === 'object') Object.assign(state.context, ctx); },
  };
  // The interface strings of the user's language first (a failed fetch keeps English), then the panel.
  const strings = LOCALES.includes(LANG) ? fetch(`${API}/widget/locales/${LANG}.json`).then((r) => r.ok && r.json())
    .then((x) => { if (x) L = x; }, () => {}) : Promise.resolve();
  const boot = () => strings.then(build);
  if (document.body) boot(); else document.addEventListener('DOMContentLoaded', boot, { once: true });
})();
