// The exam room: a student signs in, sees their exams, takes one and reads
// their result. Vanilla JavaScript over the JSON API (/api/v1); every value
// from the server goes into the page as text, never as HTML.
//
// Nothing lost: an answer is first written to a queue in localStorage
// (with its own Idempotency-Key), then sent; the queue is replayed in order
// until the server has acknowledged every item, whatever happens to the
// network, the replica or the tab in between. Submitting is the last item
// of the same queue, so it waits for every answer before it.
//
// Server clock: the countdown is the attempt's deadline minus the server's
// time ("now" in GET /exams/{id}/attempt, corrected for the request's
// round trip); the attempt is polled every few seconds, so a deadline moved
// by an accommodation shows within seconds.
'use strict';
(function () {
  const API = '/api/v1';
  const POLL_MS = 5000;
  const main = document.getElementById('main');

  // ---------- small DOM helpers (text only) ----------
  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else if (v === true) n.setAttribute(k, '');
      else n.setAttribute(k, String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return n;
  }
  function show(...nodes) {
    main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
    main.focus();
  }
  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  }
  function uuid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function store(kind) {
    return {
      get(key, fallback) {
        try { const v = kind.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
      },
      set(key, v) { kind.setItem(key, JSON.stringify(v)); },
      del(key) { kind.removeItem(key); },
    };
  }
  const local = store(window.localStorage);
  const tab = store(window.sessionStorage);

  // ---------- the API client ----------
  class NetError extends Error {}
  class APIError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || { code: 'http_' + status, message: 'HTTP ' + status };
      super(err.message || err.code);
      this.status = status; this.code = err.code; this.details = err.details;
    }
    // transient: worth retrying later (the replica or a dependency is away).
    get transient() { return this.status >= 500 || this.status === 429 || this.status === 408; }
  }

  const session = {
    get() { return tab.get('examroom.session', null); },
    set(s) { tab.set('examroom.session', s); },
    clear() { tab.del('examroom.session'); },
  };

  let refreshing = null;
  async function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        const s = session.get();
        if (!s || !s.refresh_token) throw new APIError(401, null);
        const r = await request('POST', '/auth/refresh', { refresh_token: s.refresh_token }, {}, false);
        session.set(Object.assign({}, s, { access_token: r.data.access_token, refresh_token: r.data.refresh_token }));
      })().finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function request(method, path, body, headers, auth) {
    const h = Object.assign({ Accept: 'application/json' }, headers);
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const s = session.get();
    if (auth !== false && s) h.Authorization = 'Bearer ' + s.access_token;
    let res;
    try {
      res = await fetch(API + path, { method, headers: h, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new NetError('network unreachable');
    }
    const text = await res.text().catch(() => '');
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (!res.ok) throw new APIError(res.status, data);
    return { status: res.status, data };
  }

  // api sends an authenticated request, refreshing the access token once
  // when it has expired. A failed refresh signs the student out (the queue
  // stays in localStorage for their next sign-in).
  async function api(method, path, body, headers) {
    try {
      return await request(method, path, body, headers);
    } catch (e) {
      if (!(e instanceof APIError) || e.status !== 401 || !session.get()) throw e;
      try {
        await refresh();
      } catch (re) {
        if (re instanceof APIError && re.status === 401) { session.clear(); signedOut(); }
        throw re;
      }
      return request(method, path, body, headers);
    }
  }

  // ---------- the server clock ----------
  const clock = {
    offset: 0, // server time - device time, in ms
    sync(serverNowIso, sentAt, receivedAt) {
      const server = Date.parse(serverNowIso);
      if (!isNaN(server)) this.offset = server - (sentAt + receivedAt) / 2;
    },
    now() { return Date.now() + this.offset; },
  };

  // ---------- the queue ----------
  // One queue per student and exam, in localStorage: it outlives reloads
  // and crashes of the tab. Items: {kind:'answer', qid, choices, key} or
  // {kind:'submit', key}. An item's key never changes, so replaying an item
  // the server already recorded (its answer was lost on the way back)
  // returns the first response and records nothing.
  class Queue {
    constructor(userID, examID) {
      this.key = `examroom.queue.${userID}.${examID}`;
      this.items = local.get(this.key, []);
      this.sending = null; // the item on the wire, never replaced
    }
    save() {
      if (this.items.length) local.set(this.key, this.items); else local.del(this.key);
    }
    put(qid, choices) {
      // A later change replaces a waiting one for the same question (the
      // server keeps only the last anyway); the one on the wire stays.
      this.items = this.items.filter((it) => !(it.kind === 'answer' && it.qid === qid && it !== this.sending));
      this.items.push({ kind: 'answer', qid, choices: choices.slice(), key: uuid() });
      this.save();
    }
    submit() {
      if (!this.items.some((it) => it.kind === 'submit')) this.items.push({ kind: 'submit', key: uuid() });
      this.save();
    }
    answersWaiting() { return this.items.filter((it) => it.kind === 'answer').length; }
    submitWaiting() { return this.items.some((it) => it.kind === 'submit'); }
    latest() {
      const out = {};
      for (const it of this.items) if (it.kind === 'answer') out[it.qid] = it.choices;
      return out;
    }
  }

  // ---------- router ----------
  let current = null; // the open exam view, stopped on navigation
  function route() {
    if (current) { current.stop(); current = null; }
    const s = session.get();
    const hash = location.hash.replace(/^#\/?/, '');
    const [page, id] = hash.split('/');
    renderHeader();
    if (!s) return loginPage();
    if (page === 'exam' && id) return examPage(decodeURIComponent(id));
    if (page === 'result' && id) return resultPage(decodeURIComponent(id));
    return examsPage();
  }
  function go(hash) {
    if (location.hash === hash) route(); else location.hash = hash;
  }
  function signedOut() {
    if (current) { current.stop(); current = null; }
    go('#/login');
  }
  function renderHeader() {
    const s = session.get();
    document.getElementById('who').textContent = s ? s.user.full_name : '';
    document.getElementById('signout').hidden = !s;
  }
  document.getElementById('signout').addEventListener('click', async () => {
    const s = session.get();
    session.clear();
    if (s) request('POST', '/auth/logout', { refresh_token: s.refresh_token }, {}, false).catch(() => {});
    signedOut();
  });

  // ---------- sign in ----------
  function loginPage() {
    const err = el('p', { id: 'login-error', class: 'error', role: 'alert' });
    const form = el('form', { id: 'login', novalidate: true },
      el('div', { class: 'field' }, el('label', { for: 'email', text: 'Email' }),
        el('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true })),
      el('div', { class: 'field' }, el('label', { for: 'password', text: 'Password' }),
        el('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true })),
      err,
      el('button', { type: 'submit', id: 'signin', text: 'Sign in' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      const email = form.email.value.trim(), password = form.password.value;
      try {
        const r = await request('POST', '/auth/login', { email, password }, {}, false);
        if (r.data.user.role !== 'student') {
          // End the session just started: staff work at /admin/.
          request('POST', '/auth/logout', { refresh_token: r.data.refresh_token }, {}, false).catch(() => {});
          err.textContent = 'This page is for students. Staff sign in at /admin/.';
          return;
        }
        session.set({ access_token: r.data.access_token, refresh_token: r.data.refresh_token, user: r.data.user });
        go('#/exams');
      } catch (e) {
        if (e instanceof NetError) err.textContent = 'No connection to the platform. Try again when you are back online.';
        else if (e.status === 429) err.textContent = 'Too many attempts; wait a moment and try again.';
        else err.textContent = 'Wrong email or password.';
      }
    });
    show(el('h1', { text: 'Sign in' }), form);
    document.getElementById('email').focus();
  }

  // ---------- my exams ----------
  function examOpenNow(x) {
    const now = clock.now();
    if (x.status === 'open') return true;
    return x.status === 'scheduled' && x.opens_at && Date.parse(x.opens_at) <= now;
  }
  async function examsPage() {
    show(el('h1', { text: 'My exams' }), el('p', { class: 'muted', text: 'Loading…' }));
    let exams;
    try {
      exams = (await api('GET', '/exams?limit=500')).data.items;
      local.set('examroom.exams.' + session.get().user.id, exams);
    } catch (e) {
      if (!(e instanceof NetError)) return failPage(e);
      exams = local.get('examroom.exams.' + session.get().user.id, []);
    }
    const open = exams.filter(examOpenNow);
    const upcoming = exams.filter((x) => x.status === 'scheduled' && !examOpenNow(x));
    const closed = exams.filter((x) => x.status === 'closed');
    const graded = exams.filter((x) => x.status === 'graded');
    const section = (title, id, list, item) => el('section', { id },
      el('h2', { text: title }),
      list.length ? el('ul', { class: 'list' }, list.map(item)) : el('p', { class: 'muted', text: 'None.' }));
    show(el('h1', { text: 'My exams' }),
      section('Open now', 'open-exams', open, (x) => el('li', {},
        el('a', { href: '#/exam/' + encodeURIComponent(x.id), text: x.title }),
        el('span', { class: 'meta', text: examMeta(x) }))),
      section('Upcoming', 'upcoming-exams', upcoming, (x) => el('li', {},
        el('strong', { text: x.title }),
        el('span', { class: 'meta', text: 'Opens ' + fmtTime(x.opens_at) + '. ' + examMeta(x) }))),
      section('Graded', 'graded-exams', graded, (x) => el('li', {},
        el('a', { href: '#/result/' + encodeURIComponent(x.id), text: x.title }),
        el('span', { class: 'meta', text: 'Your result is ready.' }))),
      closed.length ? section('Closed — being graded', 'closed-exams', closed, (x) => el('li', {},
        el('strong', { text: x.title }), el('span', { class: 'meta', text: 'Results soon.' }))) : null);
  }
  function examMeta(x) {
    const parts = [`${x.question_count} question${x.question_count === 1 ? '' : 's'}`];
    if (x.time_limit_seconds) parts.push(`${Math.round(x.time_limit_seconds / 60)} minutes`);
    if (x.closes_at) parts.push('closes ' + fmtTime(x.closes_at));
    return parts.join(' · ');
  }
  function failPage(e) {
    show(el('h1', { text: 'Something went wrong' }),
      el('p', { class: 'error', role: 'alert', text: e.message || String(e) }),
      el('p', {}, el('a', { href: '#/exams', text: 'Back to my exams' })));
  }

  // ---------- take an exam ----------
  function examPage(examID) {
    const view = new ExamView(examID, session.get().user);
    current = view;
    view.start();
  }

  class ExamView {
    constructor(examID, user) {
      this.examID = examID;
      this.user = user;
      this.queue = new Queue(user.id, examID);
      this.exam = null;
      this.attempt = null; // the server's attempt, or null before the start
      this.server = {}; // the answers the server has acknowledged
      this.rejected = []; // changes the server refused for good
      this.offline = false;
      this.stopped = false;
      this.timers = [];
      this.onePerPage = local.get('examroom.onePerPage', false);
      this.page = 0;
      this.retryMs = 1000;
      this.onOnline = () => { this.retryMs = 1000; this.flush(); this.poll(); };
      this.onOffline = () => { this.offline = true; this.renderStatus(); };
    }
    stop() {
      this.stopped = true;
      this.timers.forEach(clearInterval);
      clearTimeout(this.retryTimer);
      window.removeEventListener('online', this.onOnline);
      window.removeEventListener('offline', this.onOffline);
      for (const u of this.imageURLs || []) URL.revokeObjectURL(u);
    }
    cacheKey(what) { return `examroom.${what}.${this.user.id}.${this.examID}`; }

    async start() {
      show(el('p', { class: 'muted', text: 'Loading the exam…' }));
      window.addEventListener('online', this.onOnline);
      window.addEventListener('offline', this.onOffline);
      try {
        this.exam = (await api('GET', '/exams/' + encodeURIComponent(this.examID))).data;
        local.set(this.cacheKey('exam'), this.exam);
      } catch (e) {
        if (!(e instanceof NetError)) return failPage(e);
        this.offline = true;
        this.exam = local.get(this.cacheKey('exam'), null);
        if (!this.exam) return failPage(new Error('You are offline and this exam was never opened on this device.'));
      }
      if (this.exam.status === 'graded') return go('#/result/' + encodeURIComponent(this.examID));
      await this.loadAttempt();
      if (this.stopped) return;
      this.render();
      this.timers.push(setInterval(() => this.tick(), 250));
      this.timers.push(setInterval(() => this.poll(), POLL_MS));
      this.flush();
    }

    // loadAttempt reads the attempt from the server (or, offline, the last
    // copy this device saw).
    async loadAttempt() {
      const sent = Date.now();
      try {
        const r = await api('GET', `/exams/${encodeURIComponent(this.examID)}/attempt`);
        clock.sync(r.data.now, sent, Date.now());
        this.setAttempt(r.data);
        this.offline = false;
      } catch (e) {
        if (e instanceof APIError && e.status === 404) { this.attempt = null; this.offline = false; return; }
        if (!(e instanceof NetError) && !(e instanceof APIError && e.transient)) throw e;
        this.offline = e instanceof NetError;
        const kept = local.get(this.cacheKey('attempt'), null);
        if (kept) {
          this.attempt = kept;
          this.server = Object.assign({}, kept.answers);
          if (kept.clock_offset !== undefined) clock.offset = kept.clock_offset;
        }
      }
    }
    setAttempt(a) {
      this.attempt = a;
      this.server = Object.assign({}, a.answers);
      local.set(this.cacheKey('attempt'), Object.assign({}, a, { clock_offset: clock.offset }));
    }

    // poll follows the server: a deadline moved by an accommodation, a
    // submission from another device, the exam's close.
    async poll() {
      if (this.stopped || !this.attempt) return;
      if (navigator.onLine === false) { this.offline = true; this.renderStatus(); return; }
      const sent = Date.now();
      try {
        const r = await api('GET', `/exams/${encodeURIComponent(this.examID)}/attempt`);
        if (this.stopped) return;
        clock.sync(r.data.now, sent, Date.now());
        const before = JSON.stringify([this.attempt.deadline, this.attempt.status]);
        this.setAttempt(r.data);
        if (this.offline) { this.offline = false; this.flush(); }
        if (before !== JSON.stringify([r.data.deadline, r.data.status])) this.render();
        else this.renderStatus();
      } catch (e) {
        if (e instanceof NetError) { this.offline = true; this.renderStatus(); }
      }
    }

    deadlineMs() { return this.attempt && this.attempt.deadline ? Date.parse(this.attempt.deadline) : null; }
    timeUp() { const d = this.deadlineMs(); return d !== null && clock.now() >= d; }
    submitted() { return this.attempt && this.attempt.status === 'submitted'; }
    locked() { return !this.attempt || this.submitted() || this.timeUp() || this.queue.submitWaiting(); }

    choicesOf(qid) {
      const waiting = this.queue.latest();
      if (qid in waiting) return waiting[qid];
      return this.server[qid] || [];
    }

    async begin() {
      const btn = document.getElementById('begin');
      if (btn) btn.disabled = true;
      try {
        const sent = Date.now();
        await api('POST', `/exams/${encodeURIComponent(this.examID)}/attempt`, undefined, { 'Idempotency-Key': uuid() });
        const r = await api('GET', `/exams/${encodeURIComponent(this.examID)}/attempt`);
        clock.sync(r.data.now, sent, Date.now());
        this.setAttempt(r.data);
        this.render();
      } catch (e) {
        if (btn) btn.disabled = false;
        const msg = e instanceof NetError ? 'You are offline: the exam starts when you are back online.'
          : e.code === 'exam_not_open' ? 'This exam is not open.' : e.message;
        document.getElementById('begin-error').textContent = msg;
      }
    }

    // change records a student's choice: into the queue first, then sent.
    change(qid) {
      if (this.locked()) return;
      const inputs = main.querySelectorAll(`input[data-qid="${CSS.escape(qid)}"]`);
      const choices = Array.from(inputs).filter((i) => i.checked).map((i) => i.value);
      this.queue.put(qid, choices);
      this.markAnswered(qid);
      this.renderStatus();
      this.flush();
    }

    // flush replays the queue in order, one item at a time, until it is
    // empty or the network fails (then it tries again, backing off).
    async flush() {
      if (this.flushing || this.stopped) return;
      clearTimeout(this.retryTimer);
      if (navigator.onLine === false && this.queue.items.length) {
        // The device knows it is offline ("true" proves nothing, "false"
        // does): wait for the online event, checking now and then anyway.
        this.offline = true;
        this.renderStatus();
        this.retryTimer = setTimeout(() => this.flush(), 5000);
        return;
      }
      this.flushing = true;
      try {
        while (this.queue.items.length && !this.stopped) {
          const it = this.queue.items[0];
          this.queue.sending = it;
          this.renderStatus();
          try {
            if (it.kind === 'answer') {
              const r = await api('PUT', `/exams/${encodeURIComponent(this.examID)}/answers/${encodeURIComponent(it.qid)}`,
                { choices: it.choices }, { 'Idempotency-Key': it.key });
              this.server[it.qid] = r.data.choices;
              this.lastSavedAt = r.data.saved_at;
              if (this.attempt) {
                this.attempt.answers = Object.assign({}, this.server);
                local.set(this.cacheKey('attempt'), Object.assign({}, this.attempt, { clock_offset: clock.offset }));
              }
            } else {
              await api('POST', `/exams/${encodeURIComponent(this.examID)}/submit`, undefined, { 'Idempotency-Key': it.key });
              if (this.attempt) this.attempt.status = 'submitted';
            }
            this.offline = false;
            this.retryMs = 1000;
          } catch (e) {
            if (e instanceof NetError || (e instanceof APIError && e.transient)) {
              this.offline = e instanceof NetError;
              this.retryTimer = setTimeout(() => this.flush(), this.retryMs);
              this.retryMs = Math.min(this.retryMs * 2, 10000);
              return;
            }
            if (e instanceof APIError && e.status === 401) return; // signed out; the queue waits
            // Refused for good (the deadline passed, the exam closed, the
            // attempt was submitted elsewhere): say so, drop it.
            this.rejected.push({ item: it, code: e.code, message: e.message });
          } finally {
            this.queue.sending = null;
          }
          if (this.queue.items[0] === it) this.queue.items.shift();
          this.queue.save();
          if (it.kind === 'submit' || this.rejected.length) { await this.poll(); this.render(); }
        }
      } finally {
        this.flushing = false;
        if (!this.stopped) this.renderStatus();
      }
    }

    submit() {
      if (this.locked()) return;
      this.queue.submit();
      this.render();
      this.flush();
    }

    // ----- rendering -----
    render() {
      if (this.stopped) return;
      const x = this.exam;
      const bar = el('div', { class: 'bar' },
        el('span', { id: 'countdown', class: 'countdown', role: 'timer', 'aria-live': 'off' }),
        el('span', { id: 'save-status', class: 'save', role: 'status', 'aria-live': 'polite' }));
      const head = [el('h1', { text: x.title }), x.description ? el('p', { text: x.description }) : null, bar];
      if (!this.attempt) {
        const open = x.status === 'open' || (x.status === 'scheduled' && x.opens_at && Date.parse(x.opens_at) <= clock.now());
        show(...head,
          el('p', { text: examMeta(x) }),
          open ? el('p', {}, el('button', { type: 'button', id: 'begin', onclick: () => this.begin(), text: 'Start the exam' }))
            : el('p', { class: 'notice', text: 'This exam is not open now.' }),
          el('p', { id: 'begin-error', class: 'error', role: 'alert' }),
          el('p', {}, el('a', { href: '#/exams', text: 'Back to my exams' })));
        this.renderStatus();
        return;
      }
      const qs = x.questions || [];
      if (this.page >= qs.length) this.page = Math.max(0, qs.length - 1);
      const locked = this.locked();
      const questions = qs.map((q, i) => this.renderQuestion(q, i, qs.length, locked));
      if (this.onePerPage) questions.forEach((n, i) => { n.hidden = i !== this.page; });
      const toggle = el('button', { type: 'button', id: 'layout-toggle', class: 'secondary',
        text: this.onePerPage ? 'Show all questions' : 'One question at a time',
        onclick: () => { this.onePerPage = !this.onePerPage; local.set('examroom.onePerPage', this.onePerPage); this.render(); } });
      const pager = this.onePerPage ? el('nav', { class: 'pager', 'aria-label': 'Questions' },
        el('button', { type: 'button', id: 'prev', class: 'secondary', disabled: this.page === 0, text: '← Previous',
          onclick: () => this.goPage(this.page - 1) }),
        el('span', { text: `Question ${this.page + 1} of ${qs.length}` }),
        el('button', { type: 'button', id: 'next', class: 'secondary', disabled: this.page >= qs.length - 1, text: 'Next →',
          onclick: () => this.goPage(this.page + 1) })) : null;
      show(...head, this.renderNotice(), el('div', { class: 'pager' }, toggle), pager,
        el('form', { id: 'answers', onsubmit: (e) => e.preventDefault() }, questions),
        this.renderActions(locked));
      this.loadImages();
      this.tick();
      this.renderStatus();
    }
    goPage(i) {
      this.page = i;
      this.render();
      const q = main.querySelectorAll('.question')[this.page];
      if (q) { const first = q.querySelector('input'); if (first) first.focus(); }
    }
    renderQuestion(q, i, n, locked) {
      const chosen = this.choicesOf(q.id);
      const type = q.kind === 'multiple' ? 'checkbox' : 'radio';
      const pts = `${q.points} point${q.points === 1 ? '' : 's'}` + (q.negative_points ? `, −${q.negative_points} if wrong` : '');
      const hint = q.kind === 'multiple' ? 'Choose all that apply.' : 'Choose one.';
      const fs = el('fieldset', { class: 'question' + (chosen.length ? ' answered' : ''), id: 'q-' + q.id, 'data-qid': q.id },
        el('legend', { text: `Question ${i + 1} of ${n} · ${pts}` }),
        el('p', { class: 'text', id: 'qt-' + q.id, text: q.text }),
        q.image_id ? el('img', { 'data-image': q.image_id, alt: 'Image for question ' + (i + 1) }) : null,
        el('p', { class: 'muted', text: hint }),
        q.choices.map((c, j) => {
          const id = `c-${q.id}-${j}`;
          return el('label', { class: 'choice', for: id },
            el('input', { type, id, name: 'q-' + q.id, value: c.key, 'data-qid': q.id, checked: chosen.includes(c.key),
              disabled: locked, 'aria-describedby': 'qt-' + q.id, onchange: () => this.change(q.id) }),
            el('span', { text: c.text }));
        }),
        type === 'radio' && !locked ? el('button', { type: 'button', class: 'link clear', text: 'Clear my answer',
          onclick: () => { main.querySelectorAll(`input[data-qid="${CSS.escape(q.id)}"]`).forEach((r) => { r.checked = false; }); this.change(q.id); } }) : null);
      return fs;
    }
    markAnswered(qid) {
      const fs = document.getElementById('q-' + qid);
      if (fs) fs.classList.toggle('answered', this.choicesOf(qid).length > 0);
    }
    renderNotice() {
      const qs = this.exam.questions || [];
      const savedCount = qs.filter((q) => (this.server[q.id] || []).length > 0).length;
      const rejected = this.rejected.filter((r) => r.item.kind === 'answer');
      const lost = rejected.length ? el('p', { class: 'error', id: 'rejected', text:
        `${rejected.length} change${rejected.length === 1 ? ' was' : 's were'} refused by the server (${rejected[0].message}) and not saved.` }) : null;
      if (this.submitted()) {
        return el('div', { class: 'notice', id: 'final', role: 'status' },
          el('p', { text: `Submitted. The server has ${savedCount} of ${qs.length} answers; your result appears under “My exams” once the exam is graded.` }), lost);
      }
      if (this.timeUp()) {
        const waiting = this.queue.answersWaiting();
        return el('div', { class: 'notice warn', id: 'final', role: 'alert' },
          el('p', { text: `Time is up. The server has ${savedCount} of ${qs.length} answers saved before the deadline.` }),
          waiting ? el('p', { text: `${waiting} change${waiting === 1 ? '' : 's'} made offline could not reach the server in time.` }) : null,
          lost);
      }
      if (this.queue.submitWaiting()) {
        const n = this.queue.answersWaiting();
        return el('div', { class: 'notice', id: 'final', role: 'status' },
          el('p', { id: 'submit-wait', text: n ? `Submitting: waiting for ${n} answer${n === 1 ? '' : 's'} to be saved first…` : 'Submitting…' }), lost);
      }
      return lost;
    }
    renderActions(locked) {
      if (locked) return el('p', {}, el('a', { href: '#/exams', text: 'Back to my exams' }));
      const confirm = el('div', { id: 'confirm', class: 'notice', hidden: true },
        el('p', { text: 'Submit now? You cannot change your answers afterwards.' }),
        el('div', { class: 'actions' },
          el('button', { type: 'button', id: 'submit-yes', text: 'Yes, submit', onclick: () => this.submit() }),
          el('button', { type: 'button', id: 'submit-no', class: 'secondary', text: 'Keep working',
            onclick: () => { confirm.hidden = true; document.getElementById('submit').focus(); } })));
      return el('div', {},
        el('div', { class: 'actions' },
          el('button', { type: 'button', id: 'submit', text: 'Submit my answers',
            onclick: () => { confirm.hidden = false; document.getElementById('submit-yes').focus(); } }),
          el('a', { href: '#/exams', text: 'Back to my exams (answers stay saved)' })),
        confirm);
    }
    async loadImages() {
      this.imageURLs = this.imageURLs || [];
      for (const img of main.querySelectorAll('img[data-image]')) {
        try {
          const s = session.get();
          const res = await fetch(API + '/images/' + encodeURIComponent(img.dataset.image),
            { headers: { Authorization: 'Bearer ' + (s && s.access_token) } });
          if (!res.ok) throw new Error('image ' + res.status);
          const u = URL.createObjectURL(await res.blob());
          this.imageURLs.push(u);
          img.src = u;
        } catch (e) {
          img.alt += ' (could not be loaded now)';
        }
      }
    }
    tick() {
      const c = document.getElementById('countdown');
      if (!c) return;
      const d = this.deadlineMs();
      if (!this.attempt || d === null) { c.textContent = this.attempt ? 'No time limit' : ''; return; }
      const left = Math.max(0, d - clock.now());
      const s = Math.floor(left / 1000);
      const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
      const txt = (hh ? hh + ':' + String(mm).padStart(2, '0') : String(mm)) + ':' + String(ss).padStart(2, '0');
      c.textContent = 'Time left ' + txt;
      c.dataset.deadline = this.attempt.deadline;
      c.classList.toggle('low', left < 5 * 60 * 1000);
      const up = left === 0;
      if (up !== this.wasUp) {
        this.wasUp = up;
        if (this.wasUp !== undefined) this.render();
      }
    }
    renderStatus() {
      const st = document.getElementById('save-status');
      const net = document.getElementById('net');
      net.hidden = !this.offline;
      net.textContent = this.offline ? 'Offline — your answers are kept on this device and sent when the connection returns.' : '';
      if (!st) return;
      const n = this.queue.answersWaiting();
      let cls, txt;
      if (this.offline && (n || this.queue.submitWaiting())) {
        cls = 'offline'; txt = `Offline — ${n} answer${n === 1 ? '' : 's'} waiting`;
      } else if (this.offline) {
        cls = 'offline'; txt = 'Offline — all answers saved';
      } else if (n || this.queue.submitWaiting()) {
        cls = 'saving'; txt = `Saving… (${n} waiting)`;
      } else {
        cls = 'saved'; txt = 'All answers saved';
      }
      st.className = 'save ' + cls;
      st.dataset.state = cls;
      st.dataset.waiting = String(n);
      st.textContent = txt;
    }
  }

  // ---------- my result ----------
  async function resultPage(examID) {
    show(el('p', { class: 'muted', text: 'Loading your result…' }));
    let x, r;
    try {
      x = (await api('GET', '/exams/' + encodeURIComponent(examID))).data;
      r = (await api('GET', `/exams/${encodeURIComponent(examID)}/result`)).data;
    } catch (e) {
      if (e instanceof APIError && e.code === 'not_graded') {
        return show(el('h1', { text: x ? x.title : 'Result' }), el('p', { class: 'notice', text: 'Not graded yet. Come back later.' }),
          el('p', {}, el('a', { href: '#/exams', text: 'Back to my exams' })));
      }
      return failPage(e);
    }
    const byID = new Map((r.questions || []).map((q) => [q.question_id, q]));
    const label = (q, keys) => keys.map((k) => { const c = q.choices.find((cc) => cc.key === k); return c ? c.text : k; }).join(', ') || '—';
    const rows = (x.questions || []).map((q, i) => {
      const s = byID.get(q.id) || { choices: [], correct: q.correct || [], points_awarded: 0 };
      const right = s.points_awarded >= q.points;
      return el('tr', {},
        el('td', { text: String(i + 1) }),
        el('td', {}, el('span', { text: q.text })),
        el('td', { text: label(q, s.choices) }),
        el('td', { text: label(q, s.correct) }),
        el('td', { class: right ? 'right' : 'wrong', text: `${s.points_awarded} / ${q.points}` }));
    });
    show(el('h1', { text: x.title }),
      el('p', { class: 'notice', id: 'score', text: `Your score: ${r.score} of ${r.max_score} (${r.percentage}%)` }),
      el('div', { class: 'result' }, el('table', {},
        el('caption', { class: 'muted', text: 'Graded ' + fmtTime(r.graded_at) }),
        el('thead', {}, el('tr', {}, ['#', 'Question', 'Your answer', 'Correct', 'Points'].map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, rows))),
      el('p', {}, el('a', { href: '#/exams', text: 'Back to my exams' })));
  }

  // ---------- start ----------
  window.addEventListener('hashchange', route);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/exam/sw.js', { scope: '/exam/' }).catch(() => {});
  }
  route();
}());
