// Runs remarket's browser snippet (/t.js) in a minimal fake browser and
// waits for its requests: node e2e/snippet-node.mjs <baseURL> <writeKey>
// Queues page, track and identify calls before the script loads, as the
// documented tag does. Exits non-zero if a request fails.
import vm from 'node:vm'

const [base, writeKey] = process.argv.slice(2)
if (!base || !writeKey) {
  console.error('usage: node e2e/snippet-node.mjs <baseURL> <writeKey>')
  process.exit(2)
}

const src = `${base}/t.js?k=${encodeURIComponent(writeKey)}`
const code = await (await fetch(src)).text()

const sent = []
const store = new Map()
const window = {
  location: { href: 'https://shop.example/p/canon-250d', pathname: '/p/canon-250d' },
  navigator: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/125.0' },
  localStorage: {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  },
  crypto: globalThis.crypto,
  btoa: globalThis.btoa,
  // No sendBeacon here: fetch keepalive is the path under test.
  fetch: (url, init) => {
    const p = fetch(url, init).then(async (r) => {
      if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`)
      return r
    })
    sent.push(p)
    return p
  },
  Image: function () { throw new Error('pixel fallback used while fetch works') },
}
window.remarket = function () { (window.remarket.q = window.remarket.q || []).push(arguments) }
window.remarket('page')
window.remarket('track', 'Product Viewed', { product_id: 'P1', price: 499.9, currency: 'EUR' })
window.remarket('identify', 'snippet-user', { email: 'ann@example.com' })

const document = {
  currentScript: { src },
  referrer: 'https://google.com/',
  title: 'Canon EOS 250D',
  getElementsByTagName: () => [],
}
vm.runInNewContext(code, { window, document, unescape, encodeURIComponent, JSON, Date, Math, Uint8Array, Object, Array, RegExp, String })

const results = await Promise.allSettled(sent)
const failed = results.filter((r) => r.status === 'rejected')
if (sent.length !== 3 || failed.length > 0) {
  console.error(`sent ${sent.length} requests, failures:`, failed.map((f) => String(f.reason)))
  process.exit(1)
}
console.log('snippet delivered 3 events')
