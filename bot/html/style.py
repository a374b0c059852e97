"""The preview page's inline stylesheet: a clean, Bluesky-like thread view (no web fonts)."""

CSS = """
:root {
  --text: #0b0f14; --muted: #6f869f; --line: #d4dbe2; --blue: #1083fe; --bg: #f1f3f5;
  --card: #ffffff; --error: #d1242f; --error-bg: #fdecec; --warn: #9a6700; --warn-bg: #fff6d6;
}
/* Colour emoji where the system has them, without letting an emoji font draw digits or '#'. */
@font-face { font-family: "Emoji"; src: local("Noto Color Emoji"), local("Apple Color Emoji"),
  local("Segoe UI Emoji"); unicode-range: U+1F000-1FAFF, U+2600-27BF, U+2B00-2BFF; }
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.4 "Emoji", system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
    "Liberation Sans", sans-serif;
}
.page { max-width: 620px; margin: 0 auto; padding: 20px 12px 48px; }
.summary { padding: 4px 4px 12px; }
.summary h1 { font-size: 20px; margin: 0 0 4px; }
.summary .meta { margin: 0 0 8px; color: var(--muted); }
.summary .meta b { color: var(--text); }
.verdict { display: inline-block; margin: 0; padding: 4px 10px; border-radius: 999px;
  font-weight: 600; font-size: 13px; }
.verdict.ok { background: #e3f6e8; color: #1a7f37; }
.verdict.warning { background: var(--warn-bg); color: var(--warn); }
.verdict.error { background: var(--error-bg); color: var(--error); }
.issue { background: var(--card); border: 1px solid var(--line); border-radius: 14px;
  margin: 16px 0; overflow: hidden; }
.issue-title { font-size: 17px; margin: 0; padding: 14px 16px 2px; }
.issue-title a { color: var(--text); text-decoration: none; }
.issue-title a:hover { text-decoration: underline; }
.issue-url { margin: 0; padding: 0 16px 12px; color: var(--muted); font-size: 13px;
  overflow-wrap: anywhere; border-bottom: 1px solid var(--line); }
.plan { margin: 12px 16px 0; padding: 8px 12px; border-radius: 8px; font-size: 14px;
  background: #fff4e5; color: #8a4b00; border: 1px solid #f5c98b; }
.thread { list-style: none; margin: 0; padding: 12px 0 4px; }
.thread + .thread { border-top: 1px solid var(--line); }
.post { display: flex; gap: 10px; padding: 0 16px; }
.gutter { display: flex; flex-direction: column; align-items: center; flex: 0 0 42px; }
.avatar { width: 42px; height: 42px; border-radius: 50%; flex: 0 0 42px;
  background: linear-gradient(135deg, #0a7aff, #59b9ff); color: #fff; font-weight: 700;
  display: flex; align-items: center; justify-content: center; font-size: 15px; }
.thread-line { width: 2px; flex: 1 1 auto; background: var(--line); margin: 4px 0 0;
  min-height: 12px; }
.post.last .thread-line { visibility: hidden; }
.body { flex: 1 1 auto; min-width: 0; padding-bottom: 14px; }
.author { display: flex; gap: 4px; align-items: baseline; white-space: nowrap;
  overflow: hidden; }
.author .name { font-weight: 700; overflow: hidden; text-overflow: ellipsis; }
.handle { color: var(--muted); overflow: hidden; text-overflow: ellipsis; }
.position { margin-left: auto; color: var(--muted); font-size: 13px; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin-top: 2px; }
.facet.link, .facet.tag, .facet.mention { color: var(--blue); text-decoration: none; }
a.facet:hover { text-decoration: underline; }
.facet.dead { color: var(--error); text-decoration: underline wavy; }
.card { display: block; margin-top: 10px; border: 1px solid var(--line); border-radius: 12px;
  overflow: hidden; color: var(--text); text-decoration: none; background: var(--card); }
.thumb { display: block; width: 100%; aspect-ratio: 1.91 / 1; object-fit: cover;
  border-bottom: 1px solid var(--line); }
.thumb.placeholder { display: flex; aspect-ratio: auto; height: 64px; align-items: center;
  justify-content: center;
  color: var(--muted); font-size: 13px;
  background: repeating-linear-gradient(45deg, #f5f7f9, #f5f7f9 10px, #eceff2 10px, #eceff2 20px); }
.card-text { padding: 10px 12px 12px; }
.card-title { font-weight: 600; display: -webkit-box; -webkit-line-clamp: 3;
  -webkit-box-orient: vertical; overflow: hidden; }
.card-description { color: var(--text); font-size: 14px; margin-top: 2px; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.card-domain { color: var(--muted); font-size: 13px; margin-top: 6px; padding-top: 6px;
  border-top: 1px solid var(--line); }
.card-domain::before { content: "\\1F310\\FE0E  "; }
.counts { margin-top: 8px; color: var(--muted); font-size: 12px;
  font-variant-numeric: tabular-nums; }
.counts .warning { color: var(--warn); font-weight: 600; }
.counts .error { color: var(--error); font-weight: 700; }
.warnings { list-style: none; margin: 6px 0 0; padding: 0; font-size: 13px; }
.warnings li { margin-top: 4px; padding: 4px 8px; border-radius: 6px; }
.warnings li b { text-transform: uppercase; font-size: 11px; letter-spacing: .04em;
  margin-right: 4px; }
.warnings .finding.error { background: var(--error-bg); color: var(--error); }
.warnings .finding.warning { background: var(--warn-bg); color: var(--warn); }
.post.error .avatar { box-shadow: 0 0 0 3px var(--error-bg), 0 0 0 4px var(--error); }
"""
