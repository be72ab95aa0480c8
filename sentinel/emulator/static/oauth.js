// The fake OAuth popup's behaviour: choose the account, grant scopes, report to the opener, close.
//
// As with Google's granular consent, "Continue" without the Drive scope ticked reports a failure
// (Colab then says "credential propagation was unsuccessful"); closing the window reports nothing and
// the opener notices the closed popup ("popup-closed").

const params = new URLSearchParams(window.location.search);
const request = params.get('request') || '';
const chooser = document.getElementById('account-chooser');
const consent = document.getElementById('consent');
const selectAll = document.getElementById('select-all');
const scopes = [...document.querySelectorAll('input.scope')];
let finished = false;

function finish(success, errorReason = null) {
  if (finished) return;
  finished = true;
  const message = { success, request };
  if (!success) message.errorReason = errorReason;
  if (window.opener) window.opener.postMessage(message, window.location.origin);
  window.close();
}

function chooseAccount(tile) {
  if (tile.getAttribute('aria-disabled') === 'true') return;
  document.getElementById('chosen-account').textContent = tile.dataset.email;
  chooser.hidden = true;
  consent.hidden = false;
  selectAll.focus();
}

for (const tile of document.querySelectorAll('.account')) {
  tile.addEventListener('click', () => chooseAccount(tile));
  tile.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      chooseAccount(tile);
    }
  });
}

selectAll.addEventListener('change', () => {
  for (const scope of scopes) scope.checked = selectAll.checked;
});
for (const scope of scopes) {
  scope.addEventListener('change', () => {
    const checked = scopes.filter((item) => item.checked).length;
    selectAll.checked = checked === scopes.length;
    selectAll.indeterminate = checked > 0 && checked < scopes.length;
  });
}

document.getElementById('continue').addEventListener('click', () => {
  const drive = scopes.find((scope) => scope.dataset.scope === 'drive');
  if (drive.checked) finish(true);
  else finish(false, 'scopes-not-granted');
});
document.getElementById('cancel').addEventListener('click', () => finish(false, 'access-denied'));
