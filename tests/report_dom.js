// The offline report's script run under node (tests/test_report.py), on a small DOM of its own:
// `node report_dom.js PAGE.json` where PAGE.json holds the page's elements (id -> tag, hidden,
// checked, a select's value), its data block, its app script and an optional `probe`, a function
// of window.patscape run once the page has rendered. Prints JSON: every call to plotly with its
// data and layout, the text of every element of the page, the body's attributes, the probe's
// answer, and `misuse`: every use of innerHTML, outerHTML, insertAdjacentHTML or document.write
// (the views must put text into the page as text nodes only).
'use strict';
const fs = require('fs');
const vm = require('vm');
const page = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const misuse = [];
const plotly = [];

class Text {
  constructor(data) { this.nodeType = 3; this.data = String(data); this.parentNode = null; }
  get textContent() { return this.data; }
}
class Element {
  constructor(tag) {
    this.tagName = tag.toUpperCase(); this.nodeType = 1; this.childNodes = []; this.attributes = {};
    this.style = {}; this.className = ''; this.hidden = false; this.value = ''; this.parentNode = null; this.listeners = {};
  }
  appendChild(child) {
    if (child.parentNode) child.parentNode.removeChild(child);
    child.parentNode = this; this.childNodes.push(child); return child;
  }
  removeChild(child) {
    const i = this.childNodes.indexOf(child);
    if (i >= 0) this.childNodes.splice(i, 1);
    child.parentNode = null; return child;
  }
  get firstChild() { return this.childNodes[0] || null; }
  get children() { return this.childNodes.filter((n) => n.nodeType === 1); }
  get textContent() { return this.childNodes.map((n) => n.textContent).join(''); }
  set textContent(v) {
    this.childNodes.slice().forEach((n) => this.removeChild(n));
    if (v != null && v !== '') this.appendChild(new Text(v));
  }
  get innerHTML() { misuse.push('read innerHTML'); return ''; }
  set innerHTML(v) { misuse.push('innerHTML = ' + v); }
  get outerHTML() { misuse.push('read outerHTML'); return ''; }
  set outerHTML(v) { misuse.push('outerHTML = ' + v); }
  insertAdjacentHTML(where, v) { misuse.push('insertAdjacentHTML ' + v); }
  setAttribute(k, v) { this.attributes[k] = String(v); }
  getAttribute(k) { return k in this.attributes ? this.attributes[k] : null; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  on(type, fn) { this.addEventListener(type, fn); }  // plotly's event API on a graph div
  get classList() {
    const self = this;
    const names = () => new Set(self.className.split(/\s+/).filter(Boolean));
    return {
      contains: (c) => names().has(c),
      add: (c) => { const s = names(); s.add(c); self.className = [...s].join(' '); },
      remove: (c) => { const s = names(); s.delete(c); self.className = [...s].join(' '); },
      toggle: (c, on) => { const s = names(); if (on === undefined ? !s.has(c) : on) s.add(c); else s.delete(c); self.className = [...s].join(' '); }
    };
  }
  descendants() { return this.children.flatMap((c) => [c, ...c.descendants()]); }
  querySelector(selector) {
    if (!/^\.[\w-]+$/.test(selector)) throw new Error('the test DOM knows no selector ' + selector);
    return this.descendants().find((e) => e.classList.contains(selector.slice(1))) || null;
  }
  get tBodies() { return this.children.filter((c) => c.tagName === 'TBODY'); }
  get tHead() { return this.children.find((c) => c.tagName === 'THEAD') || null; }
  get rows() { return this.children.filter((c) => c.tagName === 'TR'); }
  get cells() { return this.children.filter((c) => c.tagName === 'TD' || c.tagName === 'TH'); }
  scrollIntoView() {}
  getBoundingClientRect() { return { left: 0, top: 0, right: 800, bottom: 600, width: 800, height: 600 }; }
  get clientWidth() { return 800; }
  get clientHeight() { return 600; }
}

// the elements of the page (its ids, as in the HTML), the data block with its JSON
const byId = {};
Object.keys(page.ids).forEach((id) => {
  const e = new Element(page.ids[id].tag);
  e.id = id;
  if (page.ids[id].value != null) e.value = page.ids[id].value;
  if (page.ids[id].checked) e.checked = true;
  byId[id] = e;
});
byId.data.textContent = page.data;
const body = new Element('body');
const document = {
  title: page.title,
  body: body,
  getElementById: (id) => byId[id] || null,
  createElement: (tag) => new Element(tag),
  createTextNode: (text) => new Text(text),
  write: (v) => misuse.push('document.write ' + v),
  writeln: (v) => misuse.push('document.writeln ' + v)
};
function record(fn) {
  return function (div, data, layout) {
    plotly.push({ fn: fn, div: div.id, data: fn === 'relayout' ? null : data, layout: fn === 'relayout' ? data : layout });
    if (fn !== 'relayout') { div.data = data; div.layout = layout; }
    return Promise.resolve(div);
  };
}
const window = {
  document: document,
  addEventListener: () => {},
  Plotly: { newPlot: record('newPlot'), react: record('react'), relayout: record('relayout'), purge: () => {} }
};
window.window = window;
const context = vm.createContext({ window: window, document: document, performance: performance, setTimeout: setTimeout,
                                   clearTimeout: clearTimeout, console: console, Promise: Promise });
vm.runInContext(page.app, context, { filename: 'report-app.js' });

function settled() {
  return new Promise((resolve, reject) => {
    let turns = 0;
    (function poll() {
      if (body.getAttribute('data-rendered') === 'yes') return resolve();
      if (++turns > 10000) return reject(new Error('the report never finished rendering'));
      setImmediate(poll);
    })();
  });
}
function plain(value) {  // typed arrays as arrays, NaN as null (JSON)
  return JSON.parse(JSON.stringify(value, (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v)));
}
settled().then(async () => {
  const P = window.patscape;
  const probe = page.probe ? await vm.runInContext('(' + page.probe + ')', context)(P) : null;
  const text = {};
  Object.keys(byId).forEach((id) => { if (id !== 'data') text[id] = byId[id].textContent; });
  process.stdout.write(JSON.stringify({
    misuse: misuse, plotly: plain(plotly), text: text, body: body.attributes, title: document.title,
    hidden: Object.fromEntries(Object.keys(byId).map((id) => [id, byId[id].hidden])), probe: plain(probe)
  }));
}).catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
