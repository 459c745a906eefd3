/**
 * Verification code, shown on a webhook's page, for a Node.js receiver that checks Standard
 * Webhooks signatures without a library. test/verify-snippet.test.ts runs this exact text
 * against signed deliveries.
 */
export const VERIFY_SNIPPET = `import crypto from 'node:crypto';

// secret: the whsec_ value above; body: the raw request body as text.
function verifyWebhook(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;

  const expected = crypto.createHmac('sha256', key)
    .update(\`\${id}.\${timestamp}.\${body}\`).digest();
  return headers['webhook-signature'].split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const received = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && received.length === expected.length
      && crypto.timingSafeEqual(received, expected);
  });
}`;
