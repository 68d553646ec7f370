"""Small browser scripts the pages attach to buttons (Gradio's ``js=``): they talk to the API with the
session cookie, so a download or an export never lands in Gradio's file cache."""

# the Word file comes straight from the API (session cookie), so no copy lands in Gradio's cache
DOWNLOAD_JS = """
async (text, appId, draft, language, unverified) => {
  if (!text || !appId) { return; }
  let checked = [];
  try { checked = JSON.parse(unverified || '[]'); } catch (e) {}
  const r = await fetch(`/api/apps/${encodeURIComponent(appId)}/document`, {
    method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({output: text, draft: !!draft, language: language || null, unverified: checked})});
  if (!r.ok) { let m = r.statusText; try { m = (await r.json()).error.message; } catch (e) {} alert(m); return; }
  const cd = r.headers.get('Content-Disposition') || '';
  const star = cd.match(/filename\\*=UTF-8''([^;]+)/);
  const plain = cd.match(/filename="([^"]+)"/);
  const name = star ? decodeURIComponent(star[1]) : (plain ? plain[1] : 'Entwurf.docx');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob()); a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
}
"""


INSERT_JS = """
(text) => {
  const token = TOKEN;
  const box = document.querySelector('#b-template textarea');
  if (!box) return (text || '') + token;
  const start = box.selectionStart ?? box.value.length, end = box.selectionEnd ?? start;
  const value = box.value.slice(0, start) + token + box.value.slice(end);
  box.value = value;
  box.dispatchEvent(new Event('input', {bubbles: true}));  // Gradio keeps the same value: a save includes it
  box.focus();
  box.setSelectionRange(start + token.length, start + token.length);  // write on right after the field
  return value;
}
"""

EXPORT_JS = """
async (appId) => {
  if (!appId) { alert('Bitte die App zuerst speichern.'); return; }
  const r = await fetch(`/api/apps/${encodeURIComponent(appId)}/export`, {credentials: 'same-origin'});
  if (!r.ok) { let m = r.statusText; try { m = (await r.json()).error.message; } catch (e) {} alert(m); return; }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob()); a.download = `${appId}.yaml`;
  document.body.appendChild(a); a.click(); a.remove();
}
"""
