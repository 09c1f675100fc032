//! The files the server-rendered pages load from tvgate itself, never from
//! another site: one style sheet shared by the subscriber portal and the
//! operator console (light and dark, by the system's setting; a desk and a
//! phone), and two small scripts, each an enhancement the pages work
//! without (the portal's copy buttons; the console's sortable tables and
//! the lines search that narrows as you type, and confirmations asked
//! in place). Because they are files and
//! not inline, the pages' Content-Security-Policy allows styles and
//! scripts from this server only (`web::protect_page`).
//!
//! Each is compiled in and linked with the build's version as a query
//! (`?v=`), so a browser's cached copy never outlives an upgrade.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The shared style sheet's URL.
pub const STYLE_URL: &str = concat!("/assets/tvgate.css?v=", env!("CARGO_PKG_VERSION"));
/// The console's script.
pub const CONSOLE_JS_URL: &str = concat!("/assets/console.js?v=", env!("CARGO_PKG_VERSION"));
/// The portal's script.
pub const PORTAL_JS_URL: &str = concat!("/assets/portal.js?v=", env!("CARGO_PKG_VERSION"));

const STYLE: &str = r#":root{color-scheme:light dark;--bg:#f4f5f7;--fg:#1d2330;--card:#fff;--line:#d8dbe2;--head:#eef0f3;
--muted:#5b6170;--accent:#2458c6;--ok:#11703a;--bad:#b3261e;--warn:#9a6b00;--notice:#fff6d6;
--s1:#2458c6;--s2:#c2410c;--s3:#7c3aed;--s4:#0f766e;--s5:#be185d;--s6:#4d7c0f}
@media (prefers-color-scheme:dark){:root{--bg:#14161b;--fg:#e4e6eb;--card:#1e2128;--line:#363b47;--head:#272b34;
--muted:#a0a7b5;--accent:#8fb0ff;--ok:#5fd08a;--bad:#ff8a80;--warn:#f5c451;--notice:#3a3213;
--s1:#8fb0ff;--s2:#fb923c;--s3:#c4b5fd;--s4:#5eead4;--s5:#f9a8d4;--s6:#bef264}}
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;background:var(--bg);color:var(--fg);line-height:1.45}
main{max-width:80rem;margin:0 auto;padding:1rem}
main.narrow{max-width:44rem}
a{color:var(--accent)}
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.2rem 0 .6rem}h3{font-size:1rem}
nav.top{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center;padding:.6rem 1rem;
background:var(--card);border-bottom:1px solid var(--line)}
nav.top a{color:var(--fg);text-decoration:none;padding:.15rem 0;border-bottom:2px solid transparent}
nav.top a:hover{border-bottom-color:var(--line)}
nav.top a[aria-current=page]{border-bottom-color:var(--accent);font-weight:600}
nav.top .brand{font-weight:700}
section,.card{background:var(--card);border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px #0003}
table{border-collapse:collapse;margin:.5rem 0;display:block;overflow-x:auto;max-width:100%}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:var(--head);white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th[data-sortable]{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
form{margin:.3rem 0}td form{display:inline;margin:0}
input,select,button,textarea{font:inherit;color:inherit;background:var(--card);border:1px solid var(--line);
border-radius:6px;padding:.3rem .5rem}
button{cursor:pointer;padding:.35rem .8rem;border-color:var(--muted)}
button.danger{border-color:var(--bad);color:var(--bad)}button[disabled]{opacity:.5;cursor:default}
label{margin-right:.6rem}
main.narrow input{width:100%;padding:.5rem;margin:.2rem 0 .8rem}
code{word-break:break-all;background:var(--head);padding:.1rem .3rem;border-radius:4px}
.error,.bad{color:var(--bad);font-weight:600}.ok{color:var(--ok);font-weight:600}.warn{color:var(--warn)}
.muted{color:var(--muted);font-size:.9rem}
.notice{background:var(--notice);border-left:4px solid #d9a400;padding:.6rem .8rem;margin:0 0 1rem}
ul.plain{list-style:none;padding:0;margin:0}ul.plain li{padding:.5rem 0;border-top:1px solid var(--line)}
ul.plain li:first-child{border-top:0}
.row{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
.qr svg{width:200px;height:200px;background:#fff;padding:4px;border-radius:4px}
header{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:.5rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.8rem;margin:0 0 1rem}
.tile{display:block;background:var(--card);border-radius:8px;padding:.8rem 1rem;box-shadow:0 1px 2px #0003;
color:var(--fg);text-decoration:none}
a.tile:hover{outline:2px solid var(--line)}
.tile .n{display:block;font-size:1.8rem;font-weight:700;font-variant-numeric:tabular-nums}
.tile .l{color:var(--muted);font-size:.9rem}
.graphs{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,26rem),1fr));gap:.8rem;margin:0 0 1rem}
figure.graph{margin:0;background:var(--card);border-radius:8px;padding:.6rem .8rem;box-shadow:0 1px 2px #0003}
figure.graph figcaption{font-weight:600;display:flex;justify-content:space-between;gap:.5rem;flex-wrap:wrap}
figure.graph svg{width:100%;height:auto;display:block}
svg .grid{stroke:var(--line);stroke-width:.5}svg text{fill:var(--muted);font-size:9px}
svg .area{opacity:.18;stroke:none}svg .line{fill:none;stroke-width:1.4;stroke-linejoin:round}
.s1{stroke:var(--s1);fill:var(--s1);color:var(--s1)}.s2{stroke:var(--s2);fill:var(--s2);color:var(--s2)}
.s3{stroke:var(--s3);fill:var(--s3);color:var(--s3)}.s4{stroke:var(--s4);fill:var(--s4);color:var(--s4)}
.s5{stroke:var(--s5);fill:var(--s5);color:var(--s5)}.s6{stroke:var(--s6);fill:var(--s6);color:var(--s6)}
svg .line.s1,svg .line.s2,svg .line.s3,svg .line.s4,svg .line.s5,svg .line.s6{fill:none}
.legend{list-style:none;padding:0;margin:.2rem 0 0;display:flex;flex-wrap:wrap;gap:.2rem .8rem;font-size:.85rem}
.legend li::before{content:"\25A0 ";color:currentColor}
.legend li span{color:var(--fg)}
meter{width:8rem}
ol.timeline{list-style:none;padding:0;margin:0}
ol.timeline li{padding:.45rem .2rem;border-top:1px solid var(--line);display:grid;
grid-template-columns:11rem 6rem 1fr;gap:.2rem .8rem}
ol.timeline .kind{font-weight:600}ol.timeline .refusal .kind{color:var(--bad)}ol.timeline .login .kind{color:var(--ok)}
.flash{background:var(--card);border-left:4px solid var(--ok);border-radius:4px;padding:.6rem .8rem;margin:.8rem 0;
box-shadow:0 1px 2px #0003}
.confirm-inline{display:inline-flex;flex-wrap:wrap;gap:.3rem .5rem;align-items:center;background:var(--notice);
border:1px solid var(--bad);border-radius:6px;padding:.3rem .5rem;margin:.3rem 0}
@media (max-width:40rem){main{padding:.6rem}ol.timeline li{grid-template-columns:1fr}.tile .n{font-size:1.5rem}}
"#;

/// The console: tables sort by a click on their header (numbers as
/// numbers), the lines page's search box narrows the rows shown as you
/// type (the form still searches every line on the server), and a button
/// with `data-confirm` asks its question in place before its form posts
/// with `confirm=yes` (without scripts the server asks on a page).
const CONSOLE_JS: &str = r#""use strict";
(function () {
  function key(td) {
    var t = (td && (td.getAttribute("data-v") || td.textContent) || "").trim();
    var n = Number(t.replace(/[, ]/g, ""));
    return t !== "" && !isNaN(n) ? n : t.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body) return;
    table.querySelectorAll("thead th").forEach(function (th, i) {
      if (th.textContent.trim() === "") return;
      th.setAttribute("data-sortable", "");
      th.setAttribute("tabindex", "0");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[i]), y = key(b.cells[i]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
  // A change that cannot be undone asks first, in place: the button's
  // question beside it; Yes posts the form again with confirm=yes. (The
  // server asks on a page of its own when no script runs.)
  function added(form, name, value) {
    var i = document.createElement("input");
    i.type = "hidden"; i.name = name; i.value = value;
    i.setAttribute("data-added", "");
    form.appendChild(i);
  }
  document.addEventListener("submit", function (e) {
    var form = e.target, button = e.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (!question || form.querySelector("input[name=confirm]")) return;
    e.preventDefault();
    document.querySelectorAll(".confirm-inline").forEach(function (b) { b.remove(); });
    var box = document.createElement("span");
    box.className = "confirm-inline";
    box.setAttribute("role", "alertdialog");
    var text = document.createElement("span");
    text.textContent = question;
    var yes = document.createElement("button");
    yes.type = "button"; yes.className = "danger confirm-yes";
    yes.textContent = "Yes, " + button.textContent.trim().toLowerCase();
    var no = document.createElement("button");
    no.type = "button"; no.className = "confirm-no"; no.textContent = "Cancel";
    box.append(text, yes, no);
    button.after(box);
    yes.focus();
    function cancel() { box.remove(); button.focus(); }
    no.addEventListener("click", cancel);
    box.addEventListener("keydown", function (k) { if (k.key === "Escape") cancel(); });
    yes.addEventListener("click", function () {
      added(form, "confirm", "yes");
      box.remove();
      if (form.requestSubmit) { form.requestSubmit(button); return; }
      if (button.name) added(form, button.name, button.value);
      form.submit();
    });
  });
  // Back to a page from the cache: its next change asks again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("input[data-added]").forEach(function (i) { i.remove(); });
  });
  var search = document.querySelector("input[data-narrows]");
  if (search) {
    var table = document.getElementById(search.getAttribute("data-narrows"));
    var count = document.getElementById("shown-count");
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var hit = q === "" || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        if (hit) shown++;
      });
      if (count) count.textContent = shown;
    });
  }
})();
"#;

/// The portal's copy buttons: shown only when the script runs.
const PORTAL_JS: &str = r#""use strict";
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () {
    var t = document.getElementById(b.getAttribute("data-copy")).textContent;
    if (navigator.clipboard) {
      navigator.clipboard.writeText(t).then(function () { b.textContent = "Copied"; });
    }
  });
});
"#;

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Linked with the version (`?v=`): a day in cache cannot outlive an upgrade.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `/assets/tvgate.css`, `/assets/console.js`, `/assets/portal.js`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/assets/tvgate.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/assets/portal.js",
            get(|| async { asset("text/javascript; charset=utf-8", PORTAL_JS) }),
        )
}
