/* remarket dashboard: the audience editor (#/edit/NAME, #/edit/ for a new
 * one) and the discount rules editor (#/discounts). Both save through the
 * admin API; its validation messages name the field, which the form marks.
 * The audience form previews its member count live from a dry run
 * (POST .../audiences/{name}/dry-run: nothing is stored or published). */
(function () {
  'use strict';
  var ui = window.remarketUI;
  var esc = ui.esc, num = ui.num, enc = ui.enc;

  var KINDS = ['events', 'stage', 'min_score', 'customer_type', 'traits'];
  var EVENTS = ['page_view', 'product_view', 'product_list_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase', 'identify', 'custom'];
  var STRATEGIES = ['upsell', 'cross_sell', 'reminder', 'winback'];

  function list(s) { return String(s || '').split(',').map(function (x) { return x.trim(); }).filter(Boolean); }
  function options(values, selected, blank) {
    return (blank !== undefined ? '<option value="">' + esc(blank) + '</option>' : '') + values.map(function (v) {
      return '<option value="' + esc(v) + '"' + (v === selected ? ' selected' : '') + '>' + esc(v) + '</option>';
    }).join('');
  }
  function input(field, value, attrs) {
    return '<input data-field="' + esc(field) + '" value="' + esc(value === undefined || value === null ? '' : value) + '" ' + (attrs || '') + '>';
  }
  function kindOf(c) {
    for (var i = 0; i < KINDS.length; i++) {
      var v = c[KINDS[i]];
      if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length) && !(typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)) return KINDS[i];
    }
    return 'events';
  }

  // --- audience editor -------------------------------------------------------
  function conditionRow(side, i, c) {
    var at = side + '[' + i + ']', kind = kindOf(c);
    var value;
    switch (kind) {
      case 'events': value = input(at + '.events', (c.events || []).join(', '), 'list="event-types" placeholder="product_view, add_to_cart" aria-label="events"'); break;
      case 'stage': value = '<select data-field="' + at + '.stage" aria-label="stage">' + options(['browsed', 'carted', 'purchased'], c.stage) + '</select>'; break;
      case 'min_score': value = input(at + '.min_score', c.min_score, 'type="number" step="0.1" min="0" aria-label="min score"'); break;
      case 'customer_type': value = input(at + '.customer_type', c.customer_type, 'placeholder="professional" aria-label="customer type"'); break;
      default: value = input(at + '.traits', Object.keys(c.traits || {}).map(function (k) { return k + '=' + c.traits[k]; }).join(', '), 'placeholder="plan=pro, country=DE" aria-label="traits"');
    }
    var s = '<div class="condition" data-side="' + side + '" data-i="' + i + '">';
    s += '<label>What <select class="kind" data-field="' + at + '" aria-label="condition kind">' + options(KINDS, kind) + '</select></label>';
    s += '<label class="grow">Value ' + value + '</label>';
    s += '<label>Categories ' + input(at + '.categories', (c.categories || []).join(', '), 'placeholder="Cameras > DSLR"') + '</label>';
    s += '<label>Products ' + input(at + '.products', (c.products || []).join(', '), 'placeholder="product ids"') + '</label>';
    s += '<label class="short">Since ' + input(at + '.since', c.since, 'placeholder="7d"') + '</label>';
    s += '<label class="short">Until ' + input(at + '.until', c.until, 'placeholder="1d"') + '</label>';
    if (kind === 'events') {
      s += '<label class="short">Min count ' + input(at + '.min_count', c.min_count, 'type="number" min="0"') + '</label>';
      s += '<label class="short">Max count ' + input(at + '.max_count', c.max_count, 'type="number" min="0"') + '</label>';
    }
    s += '<button type="button" class="secondary small remove" aria-label="remove condition">Remove</button></div>';
    return s;
  }

  function conditions(side, cs) {
    var s = '<fieldset class="conditions" data-side="' + side + '"><legend>' + (side === 'include' ? 'Include: all of these hold' : 'Exclude: none of these holds') + '</legend>';
    cs.forEach(function (c, i) { s += conditionRow(side, i, c); });
    return s + '<button type="button" class="secondary small add" data-side="' + side + '">Add ' + (side === 'include' ? 'an include' : 'an exclude') + ' condition</button></fieldset>';
  }

  function editorForm(def, isNew) {
    var s = '<form id="audience-form" class="card editor" novalidate>';
    s += '<div class="row"><label class="grow">Name ' + input('name', def.name, (isNew ? '' : 'readonly ') + 'placeholder="dslr_cart_abandoners" pattern="[a-z0-9_-]{1,64}"') + '</label>';
    s += '<label>Strategy <select data-field="strategy">' + options(STRATEGIES, def.strategy || 'upsell') + '</select></label></div>';
    s += '<label>Description ' + input('description', def.description, 'maxlength="500"') + '</label>';
    s += '<div class="row"><label class="short">Window ' + input('window', def.window, 'placeholder="no limit"') + '</label>';
    s += '<label class="short">Holdout % ' + input('holdout_percent', def.holdout_percent === undefined ? 10 : def.holdout_percent, 'type="number" min="0" max="50" step="1"') + '</label>';
    s += '<label class="short">Attribution window ' + input('attribution_window', def.attribution_window, 'placeholder="14d"') + '</label></div>';
    s += conditions('include', def.include && def.include.length ? def.include : [{ events: ['product_view'] }]);
    s += conditions('exclude', def.exclude || []);
    s += '<datalist id="event-types">' + EVENTS.map(function (e) { return '<option value="' + e + '">'; }).join('') + '</datalist>';
    s += '<div id="preview" class="preview muted" aria-live="polite">Preview: …</div>';
    s += '<p class="error" id="form-error" aria-live="polite"></p>';
    s += '<div class="row"><button type="submit" id="save">Save audience</button> <span id="saved" class="good"></span></div>';
    return s + '</form>';
  }

  // readForm turns the form into a definition, leaving out empty fields.
  function readForm(form) {
    var get = function (f) { var el = form.querySelector('[data-field="' + f + '"]'); return el ? el.value.trim() : ''; };
    var def = { name: get('name'), strategy: get('strategy'), include: [], exclude: [] };
    if (get('description')) def.description = get('description');
    if (get('window')) def.window = get('window');
    if (get('holdout_percent') !== '') def.holdout_percent = Number(get('holdout_percent'));
    if (get('attribution_window')) def.attribution_window = get('attribution_window');
    form.querySelectorAll('.condition').forEach(function (row) {
      var at = row.dataset.side + '[' + row.dataset.i + ']', c = {};
      var kind = row.querySelector('.kind').value, v = get(at + '.' + kind);
      if (kind === 'events') c.events = list(v);
      else if (kind === 'stage') c.stage = v;
      else if (kind === 'min_score') c.min_score = Number(v);
      else if (kind === 'customer_type') c.customer_type = v;
      else {
        c.traits = {};
        list(v).forEach(function (kv) { var p = kv.split('='); c.traits[p[0].trim()] = p.slice(1).join('=').trim(); });
      }
      if (list(get(at + '.categories')).length) c.categories = list(get(at + '.categories'));
      if (list(get(at + '.products')).length) c.products = list(get(at + '.products'));
      ['since', 'until'].forEach(function (k) { if (get(at + '.' + k)) c[k] = get(at + '.' + k); });
      ['min_count', 'max_count'].forEach(function (k) { if (get(at + '.' + k)) c[k] = Number(get(at + '.' + k)); });
      def[row.dataset.side].push(c);
    });
    if (!def.exclude.length) delete def.exclude;
    return def;
  }

  // markField shows message in out and marks the field it names
  // ("include[0].until: ..."), or the closest enclosing field the form has.
  function markField(form, message, out) {
    form.querySelectorAll('.invalid').forEach(function (el) { el.classList.remove('invalid'); el.removeAttribute('aria-invalid'); });
    out.textContent = message || '';
    var m = /^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*):/.exec(message || '');
    for (var f = m ? m[1] : ''; f;) {
      var el = form.querySelector('[data-field="' + f + '"]');
      if (el) {
        el.classList.add('invalid');
        el.setAttribute('aria-invalid', 'true');
        return f;
      }
      var shorter = f.replace(/(\.[a-z_]+|\[\d+\])$/, '');
      f = shorter === f ? '' : shorter;
    }
    return '';
  }

  function editor(name) {
    var isNew = !name;
    var load = isNew ? Promise.resolve({ strategy: 'upsell', include: [{ events: ['product_view'] }] }) :
      ui.api('GET', 'audiences/' + enc(name)).then(function (o) { return o.definition || o.audience.definition || { name: name }; });
    return load.then(function (def) {
      var s = '<h1>' + (isNew ? 'New audience' : 'Edit ' + esc(name)) + '</h1>';
      s += '<p class="muted">Saved through the admin API; a definition saved here overrides one of the same name in the config file. Members are computed by the next segment run.</p>';
      return s + editorForm(def, isNew);
    });
  }

  function bindEditor(view) {
    var form = view.querySelector('#audience-form');
    if (!form) return;
    var preview = form.querySelector('#preview'), error = form.querySelector('#form-error');
    var timer = null, seq = 0;
    function refresh() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var def = readForm(form), mine = ++seq;
        if (!/^[a-z0-9_-]{1,64}$/.test(def.name)) {
          markField(form, 'name: use 1-64 of a-z, 0-9, \'_\' or \'-\'', error);
          preview.textContent = 'Preview: name the audience first.';
          return;
        }
        preview.textContent = 'Preview: counting…';
        preview.className = 'preview muted';
        ui.api('POST', 'audiences/' + enc(def.name) + '/dry-run', def).then(function (r) {
          if (mine !== seq) return;
          markField(form, '', error);
          preview.className = 'preview';
          preview.innerHTML = 'Preview: <strong class="preview-count">' + num(r.members) + '</strong> members now (' + num(r.treatment) + ' treated, ' +
            num(r.holdout) + ' held out) <span class="muted">· dry run in ' + num(r.took_ms) + ' ms, nothing saved</span>';
        }, function (e) {
          if (mine !== seq) return;
          preview.textContent = 'Preview: fix the definition first.';
          markField(form, e.message, error);
        });
      }, 600);
    }
    function renumber() {
      form.querySelectorAll('fieldset.conditions').forEach(function (fs) {
        fs.querySelectorAll('.condition').forEach(function (row, i) {
          var old = row.dataset.side + '[' + row.dataset.i + ']', now = row.dataset.side + '[' + i + ']';
          row.dataset.i = i;
          row.querySelectorAll('[data-field]').forEach(function (el) { el.dataset.field = el.dataset.field.replace(old, now); });
        });
      });
    }
    form.addEventListener('input', refresh);
    form.addEventListener('change', function (e) {
      if (e.target.classList.contains('kind')) {
        var row = e.target.closest('.condition'), c = {};
        c[e.target.value] = e.target.value === 'events' ? ['product_view'] : e.target.value === 'stage' ? 'browsed' : e.target.value === 'min_score' ? 1 : e.target.value === 'traits' ? {} : '';
        row.outerHTML = conditionRow(row.dataset.side, row.dataset.i, c);
      }
      refresh();
    });
    form.addEventListener('click', function (e) {
      if (e.target.classList.contains('remove')) {
        e.target.closest('.condition').remove();
        renumber();
        refresh();
      } else if (e.target.classList.contains('add')) {
        var side = e.target.dataset.side, n = form.querySelectorAll('.condition[data-side="' + side + '"]').length;
        e.target.insertAdjacentHTML('beforebegin', conditionRow(side, n, { events: ['product_view'] }));
        refresh();
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var def = readForm(form), saved = form.querySelector('#saved');
      saved.textContent = '';
      ui.api('PUT', 'audiences/' + enc(def.name), def).then(function () {
        markField(form, '', error);
        saved.innerHTML = 'Saved. <button type="button" id="run-now" class="secondary small">Run segments now</button> <a href="#/audience/' + enc(def.name) + '">Open ' + esc(def.name) + '</a>';
        saved.querySelector('#run-now').addEventListener('click', function (ev) {
          var button = ev.target, tries = 0;
          clearTimeout(timer);
          seq++; // no preview from now on: a run waits for one in progress
          button.disabled = true;
          button.textContent = 'Running…';
          (function run() {
            ui.api('POST', 'segments/run').then(function () {
              location.hash = '#/audience/' + enc(def.name);
            }, function (err) {
              // A preview or a scheduled run holds the site: try again shortly.
              if (/in progress/.test(err.message) && ++tries < 180) return setTimeout(run, 1000);
              button.disabled = false;
              button.textContent = 'Run segments now';
              error.textContent = err.message;
            });
          })();
        });
      }, function (err) { markField(form, err.message, error); });
    });
    refresh();
  }

  // --- discount rules --------------------------------------------------------
  var RULE_FIELDS = ['audience', 'motivation', 'strategy', 'percent', 'amount', 'bundle_percent', 'duration', 'start'];

  // short writes a Go duration as people do: 48h0m0s is 48h.
  function short(d) { return String(d || '').replace(/h0m0s$/, 'h').replace(/m0s$/, 'm'); }

  function ruleRow(r, i) {
    var f = function (k) { return 'rules[' + i + '].' + k; };
    return '<tr class="rule" data-i="' + i + '">' +
      '<td>' + input(f('audience'), r.audience, 'placeholder="any" aria-label="audience"') + '</td>' +
      '<td><select data-field="' + f('motivation') + '" aria-label="motivation">' + options(['new', 'overstock', 'bestseller'], r.motivation, 'any') + '</select></td>' +
      '<td><select data-field="' + f('strategy') + '" aria-label="strategy">' + options(STRATEGIES, r.strategy, 'any') + '</select></td>' +
      '<td>' + input(f('percent'), r.percent || '', 'type="number" min="0" step="0.5" aria-label="percent"') + '</td>' +
      '<td>' + input(f('amount'), r.amount || '', 'type="number" min="0" step="0.01" aria-label="amount"') + '</td>' +
      '<td>' + input(f('bundle_percent'), r.bundle_percent || '', 'type="number" min="0" step="0.5" aria-label="bundle percent"') + '</td>' +
      '<td>' + input(f('duration'), short(r.duration), 'placeholder="48h" aria-label="duration"') + '</td>' +
      '<td><select data-field="' + f('start') + '" aria-label="start">' + options(['run', 'trigger'], r.start || 'run') + '</select></td>' +
      '<td><button type="button" class="secondary small remove-rule">Remove</button></td></tr>';
  }

  function ruleText(r) {
    var what = [];
    if (r.percent) what.push(r.percent + '% off');
    if (r.amount) what.push(r.amount + ' off');
    if (r.bundle_percent) what.push(r.bundle_percent + '% as a bundle');
    var sel = [r.audience, r.motivation, r.strategy].filter(Boolean).join(', ') || 'any item';
    return esc(sel + ': ' + what.join(', ') + ' for ' + short(r.duration));
  }

  function discounts() {
    return ui.api('GET', 'discounts').then(function (d) {
      var s = '<h1>Discount rules</h1><p class="muted">The most specific rule matching an item wins; every discount is bounded by the site\'s maximum of ' + num(d.max_discount_percent) + '%. Rules saved here replace config-file rules with the same audience, motivation and strategy.</p>';
      s += '<form id="rules-form" class="card editor" novalidate><div class="scroll"><table><thead><tr>' +
        ['Audience', 'Motivation', 'Strategy', 'Percent', 'Amount', 'Bundle %', 'Duration', 'Start', ''].map(function (h) { return '<th>' + esc(h) + '</th>'; }).join('') +
        '</tr></thead><tbody id="rules">' + d.rules.map(ruleRow).join('') + '</tbody></table></div>';
      s += '<p class="row"><button type="button" class="secondary small" id="add-rule">Add a rule</button></p>';
      s += '<p class="error" id="rules-error" aria-live="polite"></p><div class="row"><button type="submit" id="save-rules">Save rules</button> <span id="rules-saved" class="good"></span></div></form>';
      s += '<div class="card"><h2>From the config file</h2>' + ui.table([
        { h: 'Rule', f: ruleText },
        { h: '', f: function (r) { return '<button type="button" class="secondary small override" data-rule="' + esc(JSON.stringify(r)) + '">Edit as a saved rule</button>'; } }
      ], d.yaml_rules || [], 'No rules in the config file.') + '</div>';
      s += '<div class="card"><h2>In effect</h2><ul id="effective-rules">' + (d.effective_rules || []).map(function (r) { return '<li>' + ruleText(r) + '</li>'; }).join('') + '</ul></div>';
      return s;
    });
  }

  function readRules(form) {
    var rules = [];
    form.querySelectorAll('tr.rule').forEach(function (row, i) {
      var r = {};
      RULE_FIELDS.forEach(function (k) {
        var el = row.querySelector('[data-field="rules[' + row.dataset.i + '].' + k + '"]');
        var v = el ? el.value.trim() : '';
        if (v === '') return;
        r[k] = ['percent', 'amount', 'bundle_percent'].indexOf(k) >= 0 ? Number(v) : v;
      });
      rules.push(r);
    });
    return rules;
  }

  function bindDiscounts(view) {
    var form = view.querySelector('#rules-form');
    if (!form) return;
    var body = form.querySelector('#rules'), error = form.querySelector('#rules-error');
    function renumber() {
      body.querySelectorAll('tr.rule').forEach(function (row, i) {
        var old = 'rules[' + row.dataset.i + ']';
        row.dataset.i = i;
        row.querySelectorAll('[data-field]').forEach(function (el) { el.dataset.field = el.dataset.field.replace(old, 'rules[' + i + ']'); });
      });
    }
    form.querySelector('#add-rule').addEventListener('click', function () {
      body.insertAdjacentHTML('beforeend', ruleRow({ duration: '48h' }, body.querySelectorAll('tr.rule').length));
    });
    view.addEventListener('click', function (e) {
      if (e.target.classList.contains('remove-rule')) {
        e.target.closest('tr').remove();
        renumber();
      } else if (e.target.classList.contains('override')) {
        body.insertAdjacentHTML('beforeend', ruleRow(JSON.parse(e.target.dataset.rule), body.querySelectorAll('tr.rule').length));
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var saved = form.querySelector('#rules-saved');
      saved.textContent = '';
      ui.api('PUT', 'discounts', { rules: readRules(form) }).then(function (d) {
        markField(form, '', error);
        saved.textContent = 'Saved: ' + d.rules.length + (d.rules.length === 1 ? ' rule' : ' rules') + '. Feeds use them within seconds.';
        view.querySelector('#effective-rules').innerHTML = (d.effective_rules || []).map(function (r) { return '<li>' + ruleText(r) + '</li>'; }).join('');
      }, function (err) {
        // "rules[1]: percent 50 exceeds ..." names the rule and the field.
        var m = /^rules\[(\d+)\]:.*?\b(audience|motivation|strategy|bundle_percent|percent|amount|duration|start)\b/.exec(err.message);
        markField(form, m ? 'rules[' + m[1] + '].' + m[2] + ':' : '', error);
        error.textContent = err.message;
      });
    });
  }

  ui.pages.edit = editor;
  ui.pages.discounts = discounts;
  ui.shown.push(function (page, arg, view) {
    if (page === 'edit') bindEditor(view);
    if (page === 'discounts') bindDiscounts(view);
  });
})();
