/* remarket snippet: a small async queue that sends Segment-style calls to
 * remarket's collect API (sendBeacon, else fetch keepalive, else the pixel).
 *
 *   <script>
 *   window.remarket=window.remarket||function(){(remarket.q=remarket.q||[]).push(arguments)};
 *   remarket('page');
 *   </script>
 *   <script async src="https://t.shop.example/t.js?k=WRITE_KEY"></script>
 *
 * Calls: remarket('init', key[, {host: 'https://t.shop.example'}]),
 * remarket('page'[, name][, properties]), remarket('track', event, properties),
 * remarket('identify', userId[, traits]), remarket('consent', false|true),
 * remarket('reset'). The write key comes from ?k= on this script's src or
 * from init; events go to the host this script was loaded from.
 *
 * Offers: a landing URL from an ad feed carries a signed offer token
 * (?rm_offer=..., the server's feeds.offer_param). The script keeps the
 * latest one in first-party storage until the offer expires and attaches
 * it to the properties of every page and track call, so a purchase made
 * later in the visit, or on a later visit, counts as a redemption.
 */
(function (w, d) {
  'use strict';
  var VERSION = '1.0.0';
  var me = d.currentScript || findScript();
  var src = (me && me.src) || '';
  var base = src.replace(/\/t\.js([?#].*)?$/, '');
  var key = param(src, 'k');
  var consent = load('_rmconsent') !== '0';
  var gpc = !!(w.navigator && w.navigator.globalPrivacyControl);
  var userId = load('_rmuid');
  var anonId = load('_rmaid');
  // OFFER_PARAM is set by the server from feeds.offer_param.
  var OFFER_PARAM = 'rm_offer';
  var offer = '';

  function findScript() {
    var s = d.getElementsByTagName('script');
    for (var i = s.length - 1; i >= 0; i--) {
      if (/\/t\.js([?#]|$)/.test(s[i].src)) return s[i];
    }
    return null;
  }

  function param(url, name) {
    var m = new RegExp('[?&]' + name + '=([^&#]*)').exec(url);
    return m ? decodeURIComponent(m[1].replace(/\+/g, ' ')) : '';
  }

  function load(k) {
    try { return w.localStorage.getItem(k) || ''; } catch (e) { return ''; }
  }

  // Ids are remembered only while the visitor allows it.
  function save(k, v) {
    if (!consent || gpc) return;
    try { w.localStorage.setItem(k, v); } catch (e) { /* private mode */ }
  }

  function forget(k) {
    try { w.localStorage.removeItem(k); } catch (e) { /* private mode */ }
  }

  function uuid() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = '';
    for (var j = 0; j < 16; j++) {
      h += (b[j] + 256).toString(16).slice(1);
      if (j === 3 || j === 5 || j === 7 || j === 9) h += '-';
    }
    return h;
  }

  function anonymousId() {
    if (!anonId) {
      anonId = uuid();
      save('_rmaid', anonId);
    }
    return anonId;
  }

  // keepOffer takes a token from the landing URL, else the stored one
  // while it is valid. A token's payload (base64url JSON) says when it
  // expires ("exp", seconds); one that does not decode is kept two days.
  function keepOffer() {
    var now = new Date().getTime();
    var t = param(w.location.search || '', OFFER_PARAM);
    if (/^[A-Za-z0-9_-]{1,4000}\.[A-Za-z0-9_-]{1,200}$/.test(t)) {
      var exp = now + 2 * 864e5;
      try {
        var p = JSON.parse(w.atob(t.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')));
        if (p && p.exp > 0) exp = p.exp * 1000;
      } catch (e) { /* not ours to judge: the server verifies */ }
      offer = t;
      save('_rmoffer', t + ' ' + exp);
      return;
    }
    var kept = load('_rmoffer').split(' ');
    if (kept.length === 2 && Number(kept[1]) > now) offer = kept[0];
    else if (kept[0]) forget('_rmoffer');
  }

  function extend(a, b) {
    for (var k in b) if (Object.prototype.hasOwnProperty.call(b, k)) a[k] = b[k];
    return a;
  }

  function context() {
    var l = w.location;
    var c = {
      page: { url: l.href, path: l.pathname, referrer: d.referrer, title: d.title },
      userAgent: w.navigator.userAgent,
      library: { name: 'remarket.js', version: VERSION }
    };
    if (!consent) c.consent = false;
    return c;
  }

  function b64(s) {
    return w.btoa(unescape(encodeURIComponent(s)));
  }

  function pixel(msg) {
    var img = new w.Image(1, 1);
    img.src = base + '/p.gif?k=' + encodeURIComponent(key) + (consent ? '' : '&c=0') +
      '&data=' + encodeURIComponent(b64(JSON.stringify(msg)));
  }

  function send(type, msg) {
    if (!key || !base) return;
    var now = new Date().toISOString();
    msg.type = type;
    msg.messageId = uuid();
    msg.anonymousId = anonymousId();
    if (userId) msg.userId = userId;
    msg.timestamp = now;
    msg.sentAt = now;
    msg.context = context();
    msg.writeKey = key;
    if (offer && (type === 'page' || type === 'track')) {
      msg.properties = msg.properties || {};
      msg.properties[OFFER_PARAM] = offer;
    }
    var body = JSON.stringify(msg);
    var url = base + '/v1/' + type.charAt(0);
    var n = w.navigator;
    // text/plain keeps these simple CORS requests: no preflight.
    try {
      if (n.sendBeacon && n.sendBeacon(url, body)) return;
    } catch (e) { /* fall through */ }
    if (w.fetch) {
      try {
        w.fetch(url, {
          method: 'POST', body: body, keepalive: true, credentials: 'omit',
          headers: { 'Content-Type': 'text/plain' }
        }).then(function (r) { if (r.status >= 500) pixel(msg); }, function () { pixel(msg); });
        return;
      } catch (e) { /* fall through */ }
    }
    pixel(msg);
  }

  var api = {
    init: function (k, opts) {
      key = String(k || '');
      if (opts && opts.host) base = String(opts.host).replace(/\/+$/, '');
    },
    page: function (name, props) {
      if (name && typeof name === 'object') { props = name; name = undefined; }
      var l = w.location;
      var p = extend({ url: l.href, path: l.pathname, referrer: d.referrer, title: d.title }, props || {});
      send('page', name ? { name: String(name), properties: p } : { properties: p });
    },
    track: function (event, props) {
      send('track', { event: String(event), properties: props || {} });
    },
    identify: function (id, traits) {
      if (id && typeof id === 'object') { traits = id; id = null; }
      if (id !== null && id !== undefined && id !== '') {
        userId = String(id);
        save('_rmuid', userId);
      }
      send('identify', { traits: traits || {} });
    },
    consent: function (granted) {
      consent = granted !== false;
      if (consent) {
        forget('_rmconsent');
        save('_rmaid', anonymousId());
        if (userId) save('_rmuid', userId);
      } else {
        forget('_rmaid');
        forget('_rmuid');
        forget('_rmoffer');
        try { w.localStorage.setItem('_rmconsent', '0'); } catch (e) { /* private mode */ }
      }
    },
    reset: function () {
      userId = '';
      anonId = '';
      offer = '';
      forget('_rmaid');
      forget('_rmuid');
      forget('_rmoffer');
    }
  };

  function remarket() {
    var a = Array.prototype.slice.call(arguments);
    var fn = api[a[0]];
    if (fn) fn.apply(null, a.slice(1));
  }

  keepOffer();
  var queued = (w.remarket && w.remarket.q) || [];
  w.remarket = remarket;
  // Settings first, so a queued page call can use a key given by init.
  var i;
  for (i = 0; i < queued.length; i++) {
    if (queued[i][0] === 'init' || queued[i][0] === 'consent') remarket.apply(null, queued[i]);
  }
  for (i = 0; i < queued.length; i++) {
    if (queued[i][0] !== 'init' && queued[i][0] !== 'consent') remarket.apply(null, queued[i]);
  }
})(window, document);
