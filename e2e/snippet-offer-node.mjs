// Runs remarket's snippet (/t.js) on three page loads of one fake browser
// (shared storage): a landing page from an ad with an offer token, a
// later order, and a visit after the offer expired. Prints what each call
// sent: node e2e/snippet-offer-node.mjs <baseURL> <writeKey> <token> <hoursValid>
import vm from 'node:vm'

const [base, writeKey, token, hoursValid] = process.argv.slice(2)
const src = `${base}/t.js?k=${encodeURIComponent(writeKey)}`
const code = await (await fetch(src)).text()
const store = new Map()
const sent = []

// load runs the snippet once on url, with the clock moved by shiftHours,
// then the calls queued before it loaded.
function load(url, shiftHours, calls) {
  const u = new URL(url)
  const RealDate = Date
  const shift = shiftHours * 3600e3
  class ShiftedDate extends RealDate {
    constructor(...a) { super(...(a.length ? a : [RealDate.now() + shift])) }
    static now() { return RealDate.now() + shift }
  }
  const window = {
    location: { href: u.href, pathname: u.pathname, search: u.search },
    navigator: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/125.0' },
    localStorage: {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => store.set(k, String(v)),
      removeItem: (k) => store.delete(k),
    },
    crypto: globalThis.crypto, btoa: globalThis.btoa, atob: globalThis.atob,
    fetch: (target, init) => {
      const p = fetch(target, init).then(async (r) => {
        if (r.status !== 200) throw new Error(`${target}: ${r.status} ${await r.text()}`)
        return r
      })
      sent.push({ path: u.pathname, body: JSON.parse(init.body), done: p })
      return p
    },
    Image: function () { throw new Error('pixel fallback used while fetch works') },
  }
  window.remarket = function () { (window.remarket.q = window.remarket.q || []).push(arguments) }
  for (const c of calls) window.remarket(...c)
  const document = { currentScript: { src }, referrer: '', title: u.pathname, getElementsByTagName: () => [] }
  vm.runInNewContext(code, { window, document, unescape, encodeURIComponent, decodeURIComponent, JSON, Date: ShiftedDate, Math, Uint8Array, Object, Array, RegExp, String, Number })
}

load(`https://shop.example/p/amp?utm_source=google&rm_offer=${token}`, 0, [['page']])
load('https://shop.example/checkout/thanks', 0, [['track', 'Order Completed', { order_id: 'W-1', revenue: 10, products: [{ product_id: 'amp', price: 10 }] }]])
load('https://shop.example/later', Number(hoursValid) + 1, [['page']])
await Promise.all(sent.map((s) => s.done))
console.log(JSON.stringify(sent.map((s) => ({ path: s.path, offer: (s.body.properties || {}).rm_offer || '' }))))
