/* remarket dashboard: an audience's outcomes. The lift panel on the
 * audience page compares the treated members (shown ads) with the holdout
 * (never shown any): conversion within the attribution window after
 * joining, the lift with its 95% interval, over time by day joined, and
 * the redemptions of the audience's offers with the discount given away.
 * Every figure comes from GET /api/sites/{site}/audiences/{audience}/lift. */
(function () {
  'use strict';
  var ui = window.remarketUI;
  var esc = ui.esc, num = ui.num;

  function pct(v, d) { return v === null || v === undefined ? '—' : num(100 * v, d === undefined ? 1 : d) + '%'; }
  function pp(v) { return v === null || v === undefined ? '—' : (v >= 0 ? '+' : '') + num(100 * v, 1) + ' pp'; }
  function ci(e, f) { return e && e.low !== null && e.high !== null ? f(e.low) + ' to ' + f(e.high) : '—'; }
  function money(v) { return num(v, 2); }
  // cur is a redemption's currency after its amounts (one row per currency).
  function cur(x) { return x.currency ? ' ' + esc(x.currency) : ''; }

  var verdicts = {
    positive: ['good', 'It works'],
    negative: ['bad', 'It hurts'],
    inconclusive: ['muted', 'No difference yet'],
    too_small: ['warn', 'Too small to tell'],
    no_holdout: ['muted', 'No holdout']
  };

  // chart draws the cumulative absolute lift by day joined: the estimate
  // as a line, its 95% interval as a band, zero as a dashed line.
  function chart(days) {
    var pts = days.filter(function (d) { return d.cumulative_absolute_lift && d.cumulative_absolute_lift.low !== null; });
    if (!pts.length) return '<p class="muted">No day with both groups yet.</p>';
    var w = 600, h = 170, pad = 30;
    var lo = 0, hi = 0;
    pts.forEach(function (d) { var e = d.cumulative_absolute_lift; lo = Math.min(lo, e.low); hi = Math.max(hi, e.high); });
    if (hi - lo < 0.01) { hi += 0.005; lo -= 0.005; }
    var n = pts.length;
    var x = function (i) { return pad + (n === 1 ? (w - 2 * pad) / 2 : i * (w - 2 * pad) / (n - 1)); };
    var y = function (v) { return h - pad - (v - lo) / (hi - lo) * (h - 2 * pad); };
    var line = pts.map(function (d, i) { return (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(d.cumulative_absolute_lift.value).toFixed(1); }).join(' ');
    var band = pts.map(function (d, i) { return (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(d.cumulative_absolute_lift.high).toFixed(1); }).join(' ');
    for (var i = n - 1; i >= 0; i--) band += ' L' + x(i).toFixed(1) + ' ' + y(pts[i].cumulative_absolute_lift.low).toFixed(1);
    var s = '<svg class="chart lift-chart" viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="lift over time with its 95% interval">';
    s += '<path class="band" d="' + band + ' Z"/>';
    s += '<line class="zero" x1="' + pad + '" y1="' + y(0).toFixed(1) + '" x2="' + (w - pad) + '" y2="' + y(0).toFixed(1) + '"/>';
    s += '<path class="line" d="' + line + '"/>';
    pts.forEach(function (d, i) {
      var e = d.cumulative_absolute_lift;
      s += '<circle cx="' + x(i).toFixed(1) + '" cy="' + y(e.value).toFixed(1) + '" r="2.5"><title>' + esc(d.day + ': ' + pp(e.value) + ' (95% ' + pp(e.low) + ' to ' + pp(e.high) + ')') + '</title></circle>';
    });
    s += '<text x="' + (w - pad) + '" y="' + (y(0) - 4).toFixed(1) + '" text-anchor="end">0</text>';
    s += '<text x="' + pad + '" y="' + (pad - 10) + '">' + esc(pp(hi)) + '</text>';
    s += '<text x="' + pad + '" y="' + (h - pad + 12) + '">' + esc(pp(lo)) + '</text>';
    s += '<text x="' + pad + '" y="' + (h - 4) + '">' + esc(pts[0].day) + '</text>';
    s += '<text x="' + (w - pad) + '" y="' + (h - 4) + '" text-anchor="end">' + esc(pts[n - 1].day) + '</text>';
    return s + '</svg>';
  }

  function group(name, g) {
    return '<div class="card"><div class="muted">' + esc(name) + '</div><div class="stat">' + pct(g.conversion_rate && g.conversion_rate.value) + '</div>' +
      '<div class="muted">' + num(g.converters) + ' of ' + num(g.members) + ' bought · 95% ' + ci(g.conversion_rate, function (v) { return pct(v); }) + '</div>' +
      '<div class="muted">' + money(g.revenue_per_member) + ' revenue per member</div></div>';
  }

  function panel(r) {
    var v = verdicts[r.verdict] || ['muted', r.verdict];
    var redeemed = 0;
    r.redemptions.forEach(function (x) { redeemed += x.redemptions; });
    var s = '<div class="card lift"><h2>Did it work? <span class="verdict ' + v[0] + '">' + esc(v[1]) + '</span></h2>';
    s += '<p class="verdict-message ' + v[0] + '">' + esc(r.message) + '</p>';
    s += '<div class="grid">' + group('Treated (shown ads)', r.treatment) + group('Holdout (' + num(r.holdout_percent, 1) + '%, never shown ads)', r.holdout);
    s += '<div class="card"><div class="muted">Lift</div><div class="stat lift-value">' + pp(r.absolute_lift && r.absolute_lift.value) + '</div>' +
      '<div class="muted">95% ' + ci(r.absolute_lift, pp) + '</div>' +
      '<div class="muted">relative ' + (r.relative_lift ? (r.relative_lift.value >= 0 ? '+' : '') + pct(r.relative_lift.value, 0) + ' (95% ' + ci(r.relative_lift, function (x) { return pct(x, 0); }) + ')' : '—') + '</div></div>';
    s += '<div class="card"><div class="muted">Incremental revenue</div><div class="stat">' + (r.incremental_revenue ? money(r.incremental_revenue.value) : '—') + '</div>' +
      '<div class="muted">95% ' + ci(r.incremental_revenue, money) + '</div>' +
      '<div class="muted redemptions">' + num(redeemed) + (redeemed === 1 ? ' redemption · ' : ' redemptions · ') + money(r.discount_cost) + ' discount given</div></div></div>';
    s += '<h2>Lift over time <span class="muted">(all members who joined up to each day; band: 95% interval)</span></h2>' + chart(r.days);
    s += '<h2>Redemptions <span class="muted">(orders that used the audience\'s offers)</span></h2>' + ui.table([
      { h: 'Rule', f: function (x) { return esc(x.rule || x.rule_key || '—'); } },
      { h: 'Product', f: function (x) { return '<a href="#/product/' + ui.enc(x.product_id) + '">' + esc(x.product_id) + '</a>'; } },
      { h: 'Orders', cls: 'num', f: function (x) { return num(x.redemptions); } },
      { h: 'Units', cls: 'num hide-sm', f: function (x) { return num(x.quantity); } },
      { h: 'Revenue', cls: 'num', f: function (x) { return money(x.revenue) + cur(x); } },
      { h: 'Discount', cls: 'num', f: function (x) { return money(x.discount) + cur(x); } }
    ], r.redemptions, 'No offer of this audience was redeemed yet.');
    s += '<p class="muted">Attribution window ' + esc(r.attribution_window) + '. ' + esc(r.method) + '</p></div>';
    return s;
  }

  ui.shown.push(function (page, arg, view) {
    var slot = view.querySelector('#lift-panel');
    if (page !== 'audience' || !slot) return;
    slot.innerHTML = '<div class="card"><p class="muted">Loading outcomes…</p></div>';
    ui.api('GET', 'audiences/' + ui.enc(slot.dataset.audience) + '/lift').then(function (r) {
      slot.innerHTML = panel(r);
    }, function (e) {
      slot.innerHTML = '<div class="card error">' + esc(e.message) + '</div>';
    });
  });
})();
