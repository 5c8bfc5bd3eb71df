/* remarket dashboard: a small hash-routed page over /ui/api. No framework,
 * no CDN; charts are inline SVG. Every value is escaped before it reaches
 * innerHTML. */
(function () {
  'use strict';
  var csrf = '';
  var view = document.getElementById('view');

  function esc(v) {
    return String(v === null || v === undefined ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function num(v, d) { var n = Number(v); return isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: d === undefined ? 0 : d }) : ''; }
  function time(v) { if (!v) return ''; var t = new Date(v); return isNaN(t) || t.getFullYear() < 1971 ? '' : t.toISOString().replace('T', ' ').slice(0, 16); }
  function enc(v) { return encodeURIComponent(v); }
  function pill(s) { return s ? '<span class="pill ' + esc(s) + '">' + esc(s.replace('_', '-')) + '</span>' : ''; }

  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
    return fetch('api/' + path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401 && path !== 'login') { signedOut(); throw new Error('signed out'); }
        if (!r.ok) throw new Error(j.error || r.statusText);
        return j;
      });
    });
  }

  // --- charts ---------------------------------------------------------------
  // line draws values (oldest first) as an area chart with min/max labels.
  function line(points, opts) {
    opts = opts || {};
    var w = opts.w || 600, h = opts.h || 140, pad = opts.small ? 2 : 24;
    if (!points.length) return '<p class="muted">No data yet.</p>';
    var max = Math.max.apply(null, points.map(function (p) { return p.v; })) || 1;
    var n = points.length;
    var x = function (i) { return pad + (n === 1 ? (w - 2 * pad) / 2 : i * (w - 2 * pad) / (n - 1)); };
    var y = function (v) { return h - pad - v / max * (h - 2 * pad); };
    var d = points.map(function (p, i) { return (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(p.v).toFixed(1); }).join(' ');
    var area = d + ' L' + x(n - 1).toFixed(1) + ' ' + (h - pad) + ' L' + x(0).toFixed(1) + ' ' + (h - pad) + ' Z';
    var s = '<svg class="chart" viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="' + esc(opts.label || 'chart') + '">';
    if (!opts.small) {
      s += '<line class="axis" x1="' + pad + '" y1="' + (h - pad) + '" x2="' + (w - pad) + '" y2="' + (h - pad) + '"/>';
      s += '<text x="' + pad + '" y="' + (pad - 8) + '">' + esc(num(max)) + '</text>';
      s += '<text x="' + pad + '" y="' + (h - 6) + '">' + esc(points[0].label) + '</text>';
      s += '<text x="' + (w - pad) + '" y="' + (h - 6) + '" text-anchor="end">' + esc(points[n - 1].label) + '</text>';
    }
    s += '<path class="area" d="' + area + '"/><path class="line" d="' + d + '"/>';
    points.forEach(function (p, i) { if (n <= 40 && !opts.small) s += '<circle cx="' + x(i).toFixed(1) + '" cy="' + y(p.v).toFixed(1) + '" r="2.5" fill="#1f6feb"><title>' + esc(p.label + ': ' + num(p.v)) + '</title></circle>'; });
    return s + '</svg>';
  }
  // bars draws stacked bars of two series (a: main, b: part of it shown grey).
  function bars(points, opts) {
    opts = opts || {};
    var w = 600, h = 150, pad = 24;
    if (!points.length) return '<p class="muted">No data yet.</p>';
    var max = Math.max.apply(null, points.map(function (p) { return p.v; })) || 1;
    var bw = (w - 2 * pad) / points.length;
    var s = '<svg class="chart" viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="' + esc(opts.label || 'chart') + '">';
    s += '<line class="axis" x1="' + pad + '" y1="' + (h - pad) + '" x2="' + (w - pad) + '" y2="' + (h - pad) + '"/>';
    s += '<text x="' + pad + '" y="' + (pad - 8) + '">' + esc(num(max)) + '</text>';
    points.forEach(function (p, i) {
      var bh = p.v / max * (h - 2 * pad), gh = (p.b || 0) / max * (h - 2 * pad);
      var x0 = pad + i * bw + bw * 0.1;
      s += '<rect class="bar" x="' + x0.toFixed(1) + '" y="' + (h - pad - bh).toFixed(1) + '" width="' + (bw * 0.8).toFixed(1) + '" height="' + bh.toFixed(1) + '"><title>' + esc(p.label + ': ' + num(p.v) + (p.b ? ' (' + num(p.b) + ' ' + (opts.bLabel || '') + ')' : '')) + '</title></rect>';
      if (gh > 0) s += '<rect class="bar alt" x="' + x0.toFixed(1) + '" y="' + (h - pad - gh).toFixed(1) + '" width="' + (bw * 0.8).toFixed(1) + '" height="' + gh.toFixed(1) + '"/>';
    });
    s += '<text x="' + pad + '" y="' + (h - 6) + '">' + esc(points[0].label) + '</text>';
    s += '<text x="' + (w - pad) + '" y="' + (h - 6) + '" text-anchor="end">' + esc(points[points.length - 1].label) + '</text>';
    return s + '</svg>';
  }
  function table(cols, rows, empty) {
    if (!rows || !rows.length) return '<p class="muted">' + esc(empty || 'Nothing yet.') + '</p>';
    var s = '<div class="scroll"><table><thead><tr>' + cols.map(function (c) { return '<th class="' + (c.cls || '') + '">' + esc(c.h) + '</th>'; }).join('') + '</tr></thead><tbody>';
    rows.forEach(function (r) { s += '<tr>' + cols.map(function (c) { return '<td class="' + (c.cls || '') + '">' + c.f(r) + '</td>'; }).join('') + '</tr>'; });
    return s + '</tbody></table></div>';
  }

  // --- pages ----------------------------------------------------------------
  function overview() {
    return api('GET', 'overview').then(function (o) {
      var total = 0, visitors = 0;
      o.by_type.forEach(function (t) { total += t.n; if (t.type === 'page_view') visitors = t.visitors; });
      var run = o.runs[0];
      var s = '<h1>Overview</h1><div class="grid">';
      s += '<div class="card"><div class="muted">Events, 30 days</div><div class="stat">' + num(total) + '</div></div>';
      s += '<div class="card"><div class="muted">Visitors, 30 days</div><div class="stat">' + num(visitors) + '</div></div>';
      s += '<div class="card"><div class="muted">Last segment run</div><div class="stat">' + (run ? esc(run.status) + (run.status === 'running' ? '' : ' · ' + num(run.seconds) + ' s') : '—') + '</div><div class="muted">' + (run ? esc(time(run.finished_at) || time(run.started_at)) : 'no run yet') + '</div></div>';
      s += '<div class="card"><div class="muted">Spool backlog</div><div class="stat">' + num((o.spool.remarket_spool_bytes || 0) / 1024, 1) + ' KiB</div><div class="muted">' + num(o.spool.remarket_shipped_events_total || 0) + ' shipped since start</div></div>';
      s += '</div>';
      s += '<div class="card"><h2>Events per minute, last hour</h2>' + line(minutes(o.per_minute), { label: 'events per minute' }) + '</div>';
      s += '<div class="card"><h2>Events per day <span class="muted">(grey: bots)</span></h2>' + bars(o.per_day.map(function (p) { return { v: p.n, b: p.bots, label: String(p.t).slice(0, 10) }; }), { label: 'events per day', bLabel: 'bots' }) + '</div>';
      s += '<div class="grid wide"><div class="card"><h2>By type, 30 days</h2>' + table([{ h: 'Type', f: function (r) { return esc(r.type); } }, { h: 'Events', cls: 'num', f: function (r) { return num(r.n); } }, { h: 'Visitors', cls: 'num', f: function (r) { return num(r.visitors); } }], o.by_type) + '</div>';
      s += '<div class="card"><h2>Rejected since start</h2>' + table([{ h: 'Source', f: function (r) { return esc(r.source); } }, { h: 'Reason', f: function (r) { return esc(r.reason); } }, { h: 'Count', cls: 'num', f: function (r) { return num(r.n); } }], o.rejects, 'Nothing rejected.') + '</div>';
      s += '<div class="card"><h2>Spool and shipping</h2>' + table([{ h: 'Metric', f: function (r) { return esc(r[0]); } }, { h: 'Value', cls: 'num', f: function (r) { return num(r[1]); } }], Object.keys(o.spool).sort().map(function (k) { return [k.replace('remarket_', ''), o.spool[k]]; })) + '</div></div>';
      s += '<div class="card"><h2>Segment runs</h2>' + table([{ h: 'Started', f: function (r) { return esc(time(r.started_at)); } }, { h: 'Status', f: function (r) { return esc(r.status) + (r.is_current ? ' <span class="pill">current</span>' : '') + (r.error ? ' <span class="error">' + esc(r.error) + '</span>' : ''); } }, { h: 'Duration', cls: 'num', f: function (r) { return r.status === 'running' ? '' : num(r.seconds) + ' s'; } }], o.runs, 'No segment run yet: run remarket segment run.') + '</div>';
      return s;
    });
  }

  // minutes spreads per-minute counts over the last hour, zeros included.
  function minutes(rows) {
    var by = {};
    rows.forEach(function (r) { by[time(r.t)] = r.n; });
    var now = Math.floor(Date.now() / 60000) * 60000, out = [];
    for (var i = 59; i >= 0; i--) {
      var label = time(new Date(now - i * 60000).toISOString());
      out.push({ v: by[label] || 0, label: label.slice(11) });
    }
    return out;
  }

  function discountText(d) {
    var what = d.percent ? d.percent + '% off' : d.amount ? d.amount + ' off' : '';
    if (d.bundle_percent || d.BundlePercent) what += (what ? ', ' : '') + (d.bundle_percent || d.BundlePercent) + '% bundle';
    var p = d.Percent || d.percent, a = d.Amount || d.amount;
    if (!what) what = p ? p + '% off' : a ? a + ' off' : 'offer';
    var dur = d.Duration || d.duration;
    if (typeof dur === 'number') dur = Math.round(dur / 3.6e12) + ' h';
    var sel = [d.Motivation || d.motivation, d.Strategy || d.strategy].filter(Boolean).join(', ');
    return esc(what + (dur ? ' for ' + dur : '') + (sel ? ' (' + sel + ')' : ''));
  }

  function audiences() {
    return api('GET', 'audiences').then(function (o) {
      var s = '<h1>Audiences</h1><p class="row"><a class="button" href="#/edit/" id="new-audience">New audience</a> <a class="button secondary" href="#/discounts">Discount rules</a></p><div class="card">';
      s += table([
        { h: 'Audience', f: function (a) { return '<a href="#/audience/' + enc(a.name) + '">' + esc(a.name) + '</a><div class="muted hide-sm">' + esc(a.description || '') + '</div>'; } },
        { h: 'Strategy', f: function (a) { return pill(a.strategy); } },
        { h: 'Size', cls: 'num', f: function (a) { return '<span class="size">' + num(a.size) + '</span>'; } },
        { h: 'Trend', cls: 'hide-sm', f: function (a) { var h = a.history; return h ? '<div class="spark">' + line(h.sizes.map(function (v, i) { return { v: v, label: time(h.times[i]) }; }), { w: 120, h: 30, small: true, label: 'size trend' }) + '</div>' : ''; } },
        { h: 'Discount', f: function (a) { return (a.discounts || []).map(discountText).join('<br>') || '<span class="muted">none</span>'; } },
        { h: 'Last run', cls: 'hide-sm', f: function (a) { return esc(time(a.last_run && (a.last_run.finished_at || a.last_run.time || a.last_run))); } }
      ], o.audiences, 'No audiences configured.');
      return s + '</div>';
    });
  }

  function audience(name) {
    return api('GET', 'audiences/' + enc(name)).then(function (o) {
      var a = o.audience;
      var s = '<h1>' + esc(a.name) + ' ' + pill(a.strategy) + ' <a class="button secondary small" href="#/edit/' + enc(a.name) + '">Edit</a></h1>';
      s += '<div id="lift-panel" data-audience="' + esc(a.name) + '"></div>';
      s += '<div class="grid"><div class="card"><div class="muted">Members now</div><div class="stat">' + num(a.size) + '</div><p>' + esc(a.description || '') + '</p></div>';
      s += '<div class="card"><div class="muted">Discounts</div>' + ((o.discounts || []).map(discountText).join('<br>') || '<p class="muted">No discount rule applies.</p>') + '</div></div>';
      s += '<div class="card"><h2>Size history</h2>' + line(o.history.map(function (h) { return { v: h.size, label: time(h.run_time) }; }), { label: 'audience size' }) + '</div>';
      s += '<div class="card"><h2>Definition</h2><pre class="scroll">' + esc(JSON.stringify(o.definition || a.definition || a, null, 2)) + '</pre></div>';
      s += '<div class="card"><h2>Top products</h2>' + table([
        { h: '#', cls: 'num', f: function (r) { return num(r.rank); } },
        { h: 'Product', f: function (r) { return '<a href="#/product/' + enc(r.product_id) + '">' + esc(r.product_id_title || r.product_id) + '</a> <span class="muted">' + esc(num(r.product_id_price, 2)) + ' ' + esc(r.product_id_currency || '') + '</span>'; } },
        { h: 'Why', f: function (r) { return pill(r.strategy) + ' ' + esc(r.reason) + (r.motivation ? ' <span class="pill">' + esc(r.motivation) + '</span>' : ''); } },
        { h: 'Score', cls: 'num hide-sm', f: function (r) { return num(r.score, 2); } },
        { h: 'Members', cls: 'num', f: function (r) { return num(r.members); } }
      ], o.products) + '</div>';
      s += '<div class="card"><h2>Feeds</h2><p class="muted">Give these URLs to Google Merchant Center or Meta Commerce Manager as a scheduled fetch (or use HTTP Basic with the feed token as password).</p><ul>';
      Object.keys(o.feeds).forEach(function (k) { s += '<li><a href="' + esc(o.feeds[k]) + '"><code>' + esc(o.feeds[k]) + '</code></a></li>'; });
      s += '</ul><p>Members export (admin token): <code>' + esc(o.members_export) + '</code></p>';
      s += '<h2>Feed preview <span class="muted">(first ' + num(o.preview.items.length) + ' of ' + num(o.preview.total || 0) + ' items of feed.json)</span></h2>';
      s += table([
        { h: 'id', f: function (i) { return '<code class="feed-id">' + esc(i.id) + '</code>'; } },
        { h: 'Title', f: function (i) { return esc(i.title); } },
        { h: 'Price', cls: 'num', f: function (i) { return esc(i.price); } },
        { h: 'Sale', cls: 'num', f: function (i) { return esc(i.sale_price || ''); } },
        { h: 'Why', f: function (i) { return esc(i.custom_label_2 || '') + (i.custom_label_3 ? '<div class="good">' + esc(i.custom_label_3) + '</div>' : ''); } }
      ], o.preview.items, 'The feed is empty (status ' + o.preview.status + ').');
      s += '</div><div class="card"><h2>Sample members</h2>' + table([
        { h: 'Visitor', f: function (m) { return '<a href="#/visitor/' + enc(m.visitor_id) + '"><code>' + esc(m.visitor_id) + '</code></a>'; } },
        { h: 'User', cls: 'hide-sm', f: function (m) { return esc(m.user_id); } },
        { h: 'Stage', f: function (m) { return esc(m.stage); } },
        { h: 'Type', f: function (m) { return esc(m.customer_type); } },
        { h: 'Group', cls: 'hide-sm', f: function (m) { return m.grp === 'holdout' ? '<span class="pill">holdout</span>' : esc(m.grp); } },
        { h: 'Since', f: function (m) { return esc(time(m.trigger_time)); } }
      ], o.members) + '</div>';
      return s;
    });
  }

  function lookupForm(kind, value, placeholder) {
    return '<form class="row card lookup"><label class="grow">' + esc(kind) + ' <input name="q" value="' + esc(value || '') + '" placeholder="' + esc(placeholder) + '"></label><button>Look up</button></form>';
  }
  function bindLookup(route) {
    var f = view.querySelector('form.lookup');
    if (f) f.addEventListener('submit', function (e) { e.preventDefault(); location.hash = '#/' + route + '/' + enc(f.q.value.trim()); });
  }

  function visitor(id) {
    var s = '<h1>Visitor lookup</h1>' + lookupForm('Visitor id or user id', id, 'e.g. an _rmid cookie value or cust-00012');
    if (!id) return Promise.resolve(s);
    return api('GET', 'visitors/' + enc(id)).then(function (o) {
      s += '<div class="card"><p>Visitor ids: ' + o.visitor_ids.map(function (v) { return '<code>' + esc(v) + '</code>'; }).join(', ') + '</p>';
      s += '<p>Audiences: ' + (o.audiences.map(function (a) { return '<a href="#/audience/' + enc(a.audience) + '">' + esc(a.audience) + '</a> (' + esc(a.stage) + ', ' + esc(a.customer_type) + (a.grp === 'holdout' ? ', held out' : '') + ')'; }).join(', ') || '<span class="muted">none</span>') + '</p>';
      s += '<button class="danger" id="erase">Erase this visitor</button> ';
      if (o.user) s += '<button class="danger" id="erase-user">Erase this user and every visitor id seen with it</button> ';
      s += '<span id="erase-result" class="muted"></span></div>';
      s += '<div class="card"><h2>Recommendations</h2>' + table([
        { h: 'Audience', f: function (r) { return esc(r.audience); } },
        { h: '#', cls: 'num', f: function (r) { return num(r.rank); } },
        { h: 'Product', f: function (r) { return '<a href="#/product/' + enc(r.product_id) + '">' + esc(r.product_id_title || r.product_id) + '</a>'; } },
        { h: 'Why', f: function (r) { return pill(r.strategy) + ' ' + esc(r.reason); } },
        { h: 'Score', cls: 'num', f: function (r) { return num(r.score, 2); } }
      ], o.recommendations, 'No recommendations in the current run.') + '</div>';
      s += '<div class="card"><h2>Interests</h2>' + table([
        { h: 'Kind', f: function (r) { return esc(r.kind); } },
        { h: 'Category or product', f: function (r) { return r.kind === 'product' ? '<a href="#/product/' + enc(r.key) + '">' + esc(r.key) + '</a>' : esc(r.key); } },
        { h: 'Stage', f: function (r) { return esc(r.stage); } },
        { h: 'Score', cls: 'num', f: function (r) { return num(r.score, 2); } },
        { h: 'Events', cls: 'num', f: function (r) { return num(r.events); } }
      ], o.interests, 'No interests in the current run.') + '</div>';
      s += '<div class="card"><h2>Timeline</h2>' + table([
        { h: 'Time', f: function (e) { return esc(time(e.event_time)); } },
        { h: 'Event', f: function (e) { return esc(e.type) + (e.is_bot ? ' <span class="pill">bot</span>' : '') + (e.opted_out ? ' <span class="pill">opted out</span>' : ''); } },
        { h: 'Product', f: function (e) { return e.product_id ? '<a href="#/product/' + enc(e.product_id) + '">' + esc(e.product_id) + '</a>' : esc(e.category); } },
        { h: 'Value', cls: 'num', f: function (e) { return e.revenue ? num(e.revenue, 2) + ' ' + esc(e.currency) : e.price ? num(e.price, 2) : ''; } },
        { h: 'Order', cls: 'hide-sm', f: function (e) { return esc(e.order_id); } }
      ], o.events, 'No events for this id.') + '</div>';
      return s;
    });
  }

  function product(id) {
    var s = '<h1>Product lookup</h1>' + lookupForm('Product id', id, 'e.g. canon-eos-250d');
    if (!id) return Promise.resolve(s);
    return api('GET', 'products/' + enc(id)).then(function (o) {
      var p = o.product;
      s += '<div class="card"><h2>' + esc(p.title) + '</h2><p>' + esc(p.brand) + ' · ' + esc(p.category) + ' · <strong>' + num(p.price, 2) + ' ' + esc(p.currency) + '</strong> · ' + esc(p.availability) + ' (' + num(p.stock_quantity) + ' in stock)</p>';
      s += '<p class="muted">Tags: ' + esc((p.tags || []).join(', ') || '—') + ' · launched ' + esc(String(p.launch_date).slice(0, 10)) + '</p></div>';
      var strategies = { upsell: 'Upsell', cross_sell: 'Cross-sell', similar: 'Similar' };
      s += '<div class="card"><h2>Related products</h2><p class="muted">In remarket\'s order. Upsells and cross-sells are what audiences and feeds offer; similar ones fail the price rules.</p>' + table([
        { h: '#', cls: 'num', f: function (r) { return num(r.position); } },
        { h: 'Product', f: function (r) { return '<a href="#/product/' + enc(r.related_id) + '">' + esc(r.related_id_title || r.related_id) + '</a>'; } },
        { h: 'Price', cls: 'num', f: function (r) { return num(r.related_id_price, 2); } },
        { h: 'Strategy', f: function (r) { return '<span class="pill">' + esc(strategies[r.strategy] || r.strategy) + '</span>'; } },
        { h: 'Kinds', f: function (r) { return (r.kinds || []).map(function (k, i) { return esc(k) + ' #' + num((r.ranks || [])[i]); }).join(', '); } },
        { h: 'Why', cls: 'hide-sm', f: function (r) { return esc(r.reason || ''); } }
      ], o.related, 'None in the current run.') + '</div>';
      return s;
    });
  }

  // Pages and panels in other files (outcomes.js, editor.js) use these.
  var ui = window.remarketUI = { api: api, esc: esc, num: num, time: time, enc: enc, pill: pill, table: table, pages: {}, shown: [] };

  // --- routing and session --------------------------------------------------
  function route() {
    var parts = location.hash.replace(/^#\/?/, '').split('/');
    var page = parts[0] || '', arg = decodeURIComponent(parts.slice(1).join('/'));
    var extra = ui.pages[page] && function () { return ui.pages[page](arg); };
    var render = { '': overview, audiences: audiences, audience: function () { return audience(arg); }, visitor: function () { return visitor(arg); }, product: function () { return product(arg); } }[page] || extra || overview;
    view.innerHTML = '<p class="muted">Loading…</p>';
    render().then(function (html) {
      view.innerHTML = html;
      bindLookup(page === 'visitor' ? 'visitor' : 'product');
      ui.shown.forEach(function (fn) { fn(page, arg, view); });
      [['erase', 'visitors/', 'this visitor'], ['erase-user', 'users/', 'this user and of every visitor id seen with it']].forEach(function (b) {
        var button = document.getElementById(b[0]);
        if (button) button.addEventListener('click', function () {
          if (!confirm('Erase every event and derived row of ' + b[2] + '? This cannot be undone.')) return;
          api('DELETE', b[1] + enc(arg)).then(function (r) {
            document.getElementById('erase-result').textContent = 'Erased ' + r.visitors + ' visitor ids from ' + r.tables.length + ' tables (' + r.status + ').';
          }, function (e) { document.getElementById('erase-result').textContent = e.message; });
        });
      });
    }, function (e) {
      if (e.message !== 'signed out') view.innerHTML = '<div class="card error">' + esc(e.message) + '</div>';
    });
  }

  var login = document.getElementById('login');
  function signedIn(s) {
    csrf = s.csrf;
    document.getElementById('site').textContent = 'site ' + s.site;
    document.getElementById('top').hidden = false;
    login.hidden = true;
    route();
  }
  function signedOut() {
    csrf = '';
    document.getElementById('top').hidden = true;
    view.innerHTML = '';
    login.hidden = false;
  }
  login.addEventListener('submit', function (e) {
    e.preventDefault();
    api('POST', 'login', { site: login.site.value.trim(), token: login.token.value.trim() }).then(function (s) {
      login.token.value = '';
      document.getElementById('login-error').textContent = '';
      signedIn(s);
    }, function (err) { document.getElementById('login-error').textContent = err.message; });
  });
  document.getElementById('logout').addEventListener('click', function () {
    api('POST', 'logout').then(signedOut, signedOut);
  });
  window.addEventListener('hashchange', function () { if (csrf) route(); });
  fetch('api/session', { credentials: 'same-origin' }).then(function (r) {
    return r.ok ? r.json().then(signedIn) : signedOut();
  }, signedOut);
})();
