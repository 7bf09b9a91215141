// Runs the register page's inline script in Node against a minimal DOM built from the real
// page's form (described by the Rust test), with a real HTTP round trip to the test server.
// Input (argv[2]): JSON {base, script, fields, options, fill, choose}.
// Output (stdout): JSON {request, card} once the result card is shown.
'use strict';
const input = JSON.parse(process.argv[2]);

class El {
  constructor(tag, attrs) {
    this.tagName = tag.toUpperCase();
    this.attrs = Object.assign({}, attrs || {});
    this.children = [];
    this.listeners = {};
    this.style = {};
    this._text = '';
    this.value = this.attrs.value || '';
    this._checked = 'checked' in this.attrs;
    this.disabled = false;
    this.name = this.attrs.name;
    this.type = this.attrs.type;
  }
  // A radio group: checking one unchecks the others, as browsers do.
  get checked() { return this._checked; }
  set checked(v) {
    if (v && this.type === 'radio' && typeof form !== 'undefined') {
      for (const e of form.all()) if (e !== this && e.type === 'radio' && e.name === this.name) e._checked = false;
    }
    this._checked = !!v;
  }
  get className() { return this.attrs.class || ''; }
  set className(v) { this.attrs.class = v; }
  get classList() {
    const el = this;
    const list = () => el.className.split(/\s+/).filter(Boolean);
    return {
      add(c) { if (!list().includes(c)) el.className = list().concat([c]).join(' '); },
      remove(c) { el.className = list().filter((x) => x !== c).join(' '); },
      contains(c) { return list().includes(c); },
    };
  }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  set href(v) { this.attrs.href = v; }
  get href() { return this.attrs.href; }
  appendChild(c) { this.children.push(c); c.parent = this; return c; }
  set textContent(v) { this.children = []; this._text = String(v); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(''); }
  // Writing markup is exactly what the page must not do with server values.
  set innerHTML(_v) { throw new Error('innerHTML used'); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  dispatch(type) {
    const ev = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    for (const fn of this.listeners[type] || []) fn.call(this, ev);
    return ev;
  }
  all() { return [this].concat(...this.children.map((c) => c.all())); }
  querySelectorAll(sel) {
    const rest = this.all().slice(1);
    if (sel.startsWith('.')) return rest.filter((e) => e.classList.contains(sel.slice(1)));
    return rest.filter((e) => e.tagName === sel.toUpperCase());
  }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
  toJSON() {
    return { tag: this.tagName.toLowerCase(), class: this.className, href: this.attrs.href,
      text: this._text, children: this.children };
  }
}

const byId = {};
const form = new El('form', { id: 'chathub-register', action: input.action, method: 'POST' });
const card = new El('div', { id: 'form-card', class: 'card' });
card.appendChild(form);
const selector = form.appendChild(new El('div', { class: 'plan-selector' }));
for (const o of input.options) {
  const label = selector.appendChild(new El('label', { class: o.class, 'data-plan': o.plan }));
  const radio = label.appendChild(new El('input', { type: 'radio', name: 'plan', value: o.plan }));
  radio.checked = o.checked;
}
const seatsRow = form.appendChild(new El('div', { id: 'seats-row', class: input.seatsRowClass }));
const fields = {};
for (const f of input.fields) {
  const parent = f.name === 'seats' ? seatsRow : form;
  const el = parent.appendChild(new El(f.tag, { name: f.name, type: f.type, value: f.value || '' }));
  fields[f.name] = el;
}
const btn = form.appendChild(new El('button', { id: 'submit-btn', type: 'submit' }));
for (const e of card.all()) if (e.attrs.id) byId[e.attrs.id] = e;
form.elements = fields;

global.window = { XMLHttpRequest: true };
global.document = {
  getElementById: (id) => byId[id] || null,
  createElement: (tag) => new El(tag),
};
global.FormData = function (f) {
  const pairs = [];
  for (const e of f.all()) {
    if (!e.name || e.tagName === 'BUTTON') continue;
    if (e.type === 'radio' && !e.checked) continue;
    pairs.push([e.name, e.value]);
  }
  return pairs;
};

let sent = null;
global.XMLHttpRequest = function () {
  const xhr = this;
  const headers = {};
  xhr.open = (method, url) => { xhr.method = method; xhr.url = url; };
  xhr.setRequestHeader = (k, v) => { headers[k] = v; };
  xhr.send = (body) => {
    sent = { method: xhr.method, url: xhr.url, headers, body };
    fetch(input.base + xhr.url, { method: xhr.method, headers, body })
      .then((r) => { xhr.status = r.status; xhr.statusText = r.statusText; return r.text(); })
      .then((t) => { xhr.responseText = t; xhr.onload(); finish(); })
      .catch((e) => { xhr.statusText = String(e); xhr.onerror(); finish(); });
  };
};

function finish() {
  process.stdout.write(JSON.stringify({ request: sent, submitDisabled: btn.disabled, card: byId['form-card'] }));
}

// The page's own script, as served.
new Function(input.script)();

for (const [name, value] of Object.entries(input.fill)) fields[name].value = value;
if (input.choose) {
  const opt = form.querySelectorAll('.plan-option').find((o) => o.getAttribute('data-plan') === input.choose);
  opt.dispatch('click');
}
const ev = form.dispatch('submit');
if (!ev.defaultPrevented) { console.error('submit not intercepted'); process.exit(3); }
