// Drives remarket with the official Segment Node SDK, as a shop's backend
// would: node e2e/segment-node.mjs <host> <writeKey> <idPrefix>
// Sends one track (Product Viewed), one page and one identify call, waits
// until they are delivered and exits non-zero if delivery failed.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, prefix = 'node'] = process.argv.slice(2)
if (!host || !writeKey) {
  console.error('usage: node e2e/segment-node.mjs <host> <writeKey> [idPrefix]')
  process.exit(2)
}

const analytics = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 2 })
const failures = []
analytics.on('error', (err) => failures.push(err))

const anonymousId = `${prefix}-anon`
analytics.track({
  anonymousId,
  event: 'Product Viewed',
  properties: { product_id: 'P1', sku: 'CAN-250D', category: 'Cameras > DSLR', price: 499.9, currency: 'EUR', brand: 'Canon' },
})
analytics.page({ anonymousId, name: 'Home', properties: { url: 'https://shop.example/', title: 'Shop' } })
analytics.identify({ anonymousId, userId: `${prefix}-user`, traits: { email: 'ann@example.com', plan: 'pro' } })

await analytics.closeAndFlush({ timeout: 15000 })
if (failures.length > 0) {
  console.error('delivery failed:', JSON.stringify(failures, null, 1))
  process.exit(1)
}
console.log('delivered 3 events')
