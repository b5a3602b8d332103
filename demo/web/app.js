// The demo page's own behaviour: pause, filters, bounded stream, the form reset after a success.
(function () {
  const MAX_CARDS = 200;                 // a long-running page does not grow without bound
  const stream = document.getElementById('stream');
  const pause = document.getElementById('pause');
  const heldLabel = document.getElementById('held');
  const tableFilter = document.getElementById('filter-table');
  const connection = document.getElementById('connection');
  let paused = false;
  let held = [];                          // cards that came while paused, oldest first
  let heldTotal = 0;                      // how many came while paused, kept or not

  function visible(card) {
    const ops = Array.from(document.querySelectorAll('.filter-op:checked')).map(b => b.value);
    return ops.includes(card.dataset.op) && (!tableFilter.value || tableFilter.value === card.dataset.table);
  }
  function filter() {
    for (const card of stream.children) { card.hidden = !visible(card); }
  }
  function cap() {
    while (stream.children.length > MAX_CARDS) { stream.lastElementChild.remove(); }
  }
  function noteTable(table) {
    if (table && !Array.from(tableFilter.options).some(o => o.value === table)) {
      tableFilter.add(new Option(table, table));
    }
  }
  function arrived(card) {
    card.dataset.shownAt = String(Date.now());
    noteTable(card.dataset.table);
    card.hidden = !visible(card);
  }

  document.body.addEventListener('htmx:sseBeforeMessage', function (e) {
    if (e.detail.type === 'change' && paused) {
      e.preventDefault();
      held.push(e.detail.data);
      heldTotal++;
      // the stream shows MAX_CARDS at most: older ones would be dropped on resume anyway
      if (held.length > MAX_CARDS) { held.shift(); }
      heldLabel.textContent = heldTotal + ' new while paused'
          + (heldTotal > held.length ? ' (the newest ' + held.length + ' will show)' : '');
    }
  });
  document.body.addEventListener('htmx:sseMessage', function (e) {
    if (e.detail.type === 'change' && stream.firstElementChild) {
      arrived(stream.firstElementChild);
      follow(stream.firstElementChild);
      cap();
    }
  });

  // The user list follows changes to eventflow_demo.users made anywhere (psql, another browser): a row
  // that is gone is removed, a new or changed one is fetched as a fragment from users/{id}, one
  // request at a time, the latest change of each row only. Under a burst (more than 50 rows
  // waiting) the list is fetched once instead. A row being edited is never touched.
  const rows = document.getElementById('user-rows');
  const pending = new Map();              // row id -> latest op, in arrival order
  let reloadList = false;
  let draining = false;
  function follow(card) {
    if (card.dataset.table !== 'eventflow_demo.users' || !/^[0-9]+$/.test(card.dataset.rowId || '')) { return; }
    pending.delete(card.dataset.rowId);
    pending.set(card.dataset.rowId, card.dataset.op);
    if (pending.size > 50) { pending.clear(); reloadList = true; }
    if (!draining) { drain(); }
  }
  async function drain() {
    draining = true;
    try {
      while (reloadList || pending.size) {
        if (reloadList) {
          reloadList = false;
          if (!rows.querySelector('tr.editing')) {
            await htmx.ajax('GET', 'users', { target: '#user-rows', swap: 'innerHTML' }).catch(() => {});
          }
          continue;
        }
        const [id, op] = pending.entries().next().value;
        pending.delete(id);
        await refreshRow(id, op).catch(() => {});
      }
    } finally {
      draining = false;
    }
  }
  function editing(row) { return row && row.classList.contains('editing'); }
  async function refreshRow(id, op) {
    let row = document.getElementById('user-' + id);
    if (editing(row)) { return; }
    if (op === 'd') { if (row) { row.remove(); } return; }
    const response = await fetch('users/' + id, { headers: { 'HX-Request': 'true' } });
    if (!response.ok) { return; }
    const template = document.createElement('template');
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    row = document.getElementById('user-' + id);
    if (!fresh || editing(row) || (row && row.textContent === fresh.textContent)) { return; }
    if (row) { row.replaceWith(fresh); } else { rows.prepend(fresh); }
    rows.querySelectorAll('tr.empty').forEach(r => r.remove());
    htmx.process(fresh);
  }
  // the page's own add may land after the stream already showed the row: keep one of each
  rows.addEventListener('htmx:afterSwap', function () {
    const seen = new Set();
    for (const row of Array.from(rows.querySelectorAll('tr[id^="user-"]'))) {
      if (seen.has(row.id)) { row.remove(); } else { seen.add(row.id); }
    }
    rows.querySelectorAll('tr.empty').forEach(r => { if (rows.children.length > 1) { r.remove(); } });
  });
  document.body.addEventListener('htmx:sseOpen', function () {
    connection.textContent = 'live'; connection.className = 'open';
  });
  document.body.addEventListener('htmx:sseError', function () {
    connection.textContent = 'reconnecting…'; connection.className = 'error';
  });
  pause.addEventListener('click', function () {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) {
      // the fragments were rendered and escaped by the server, exactly as a live swap would insert them
      for (const html of held) {
        stream.insertAdjacentHTML('afterbegin', html);
        arrived(stream.firstElementChild);
        follow(stream.firstElementChild);
      }
      held = [];
      heldTotal = 0;
      heldLabel.textContent = '';
      cap();
    }
  });
  tableFilter.addEventListener('change', filter);
  document.querySelectorAll('.filter-op').forEach(b => b.addEventListener('change', filter));
  document.getElementById('clear').addEventListener('click', function () { stream.replaceChildren(); });
  // a user added: the form is emptied for the next one
  document.body.addEventListener('htmx:afterRequest', function (event) {
    if (event.target.id === 'user-form' && event.detail.successful) { event.target.reset(); }
  });
})();
