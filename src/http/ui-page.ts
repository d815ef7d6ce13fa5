/**
 * The web UI's page and stylesheet. They are small and change with the code,
 * so they live here as strings and come out of the normal `tsc` build; the
 * browser scripts are compiled from src/ui/ by its own tsconfig (DOM lib).
 */

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Muster</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/style.css">
<script type="module" src="/ui/main.js"></script>
</head>
<body>
<header>
  <a class="brand" href="#/services">Muster</a>
  <nav>
    <a href="#/services" data-section="services">Services</a>
    <a href="#/nodes" data-section="nodes">Nodes</a>
    <a href="#/members" data-section="members">Members</a>
    <a href="#/kv/" data-section="kv">Key/Value</a>
  </nav>
  <span id="connection" role="status"></span>
</header>
<main id="main"><p class="muted">Loading…</p></main>
<noscript>The Muster UI needs JavaScript.</noscript>
</body>
</html>
`;

export const STYLE_CSS = `
:root { --fg: #1d2430; --muted: #6b7380; --line: #dde1e6; --bg: #f6f7f9; --link: #1f5fbf;
  --pass: #1a7f37; --warn: #9a6700; --crit: #cf222e; --font: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 var(--font); color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #1d2430; color: #fff; }
header a { color: #d8dee9; text-decoration: none; }
header a.brand { font-weight: 700; color: #fff; font-size: 16px; }
header nav { display: flex; gap: 16px; }
header nav a.active { color: #fff; border-bottom: 2px solid #fff; }
#connection { margin-left: auto; font-size: 12px; }
#connection.error { color: #ffb4b4; }
main { padding: 16px 20px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 18px 0 8px; }
a { color: var(--link); }
.muted { color: var(--muted); }
.toolbar { display: flex; gap: 12px; align-items: center; margin-bottom: 10px; }
input[type=search], input[type=text], textarea { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; }
input[type=search] { width: 320px; }
textarea { width: 100%; min-height: 180px; font-family: ui-monospace, monospace; }
button { font: inherit; padding: 4px 12px; border: 1px solid #b9c0c9; border-radius: 4px; background: #fff; cursor: pointer; }
button.primary { background: var(--link); border-color: var(--link); color: #fff; }
button.danger { color: var(--crit); border-color: var(--crit); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
.badge { display: inline-block; padding: 0 6px; margin: 0 4px 2px 0; border-radius: 9px; font-size: 12px; border: 1px solid var(--line); background: #fff; }
.badge.passing, .badge.alive { color: var(--pass); border-color: var(--pass); }
.badge.warning, .badge.leaving { color: var(--warn); border-color: var(--warn); }
.badge.critical, .badge.failed, .badge.maintenance { color: var(--crit); border-color: var(--crit); }
.badge.left, .badge.none { color: var(--muted); }
.tag { display: inline-block; padding: 0 6px; margin: 0 4px 2px 0; border-radius: 3px; background: #e8ecf1; font-size: 12px; }
dl.meta { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 8px; font-size: 12px; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; word-break: break-all; }
pre.output { margin: 2px 0 0; max-height: 6em; overflow: auto; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
.notice { padding: 8px 12px; border-radius: 4px; margin: 8px 0; border: 1px solid var(--line); background: #fff; }
.notice.error, .notice.conflict { border-color: var(--crit); background: #fff5f5; }
.notice.ok { border-color: var(--pass); background: #f3fbf4; }
.notice pre { white-space: pre-wrap; word-break: break-all; max-height: 12em; overflow: auto; }
.crumbs a, .crumbs span { margin-right: 4px; }
form.inline { display: flex; gap: 8px; align-items: flex-start; flex-wrap: wrap; margin: 12px 0; }
form.inline textarea { min-height: 60px; flex: 1 1 400px; }
.actions { display: flex; gap: 8px; margin: 8px 0; }
`;
