import { Prng } from './prng';
import type { Dataset, MessageStrings } from './dataset';

/**
 * The heavy columns of the legacy `emails` table: an HTML body (5-50 KB, log-uniform), its
 * plain-text version, and the headers as jsonb (1-3 KB), all deterministic per row.
 *
 * Realism matters for what PostgreSQL does with them: values over ~2 KB are compressed (pglz)
 * and moved to TOAST, so how well they compress decides the TOAST size. The HTML is what
 * outreach tools send: table layout with inline styles (repetitive, compresses well), prose that
 * does not repeat within a message, tracking links with random tokens (does not compress), and
 * the quoted history of the thread. Headers carry random DKIM/ARC signatures, as real ones do.
 *
 * Values are returned already escaped for COPY's text format (no tab, newline or backslash in
 * them but the `\n` escapes we write on purpose).
 */

const SYLLABLES = ['ra', 'to', 'mi', 'ke', 'lo', 'sa', 'ne', 'vi', 'du', 'po', 'ta', 'ri', 'ga', 'mo', 'le', 'zu', 'ca', 'fe', 'ni', 'bo', 'shi', 'tra', 'qua', 'den', 'vor', 'mal', 'pex', 'lin'];
const COMMON = 'the of and to a in that is for it with as was on be at by this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(' ');
const PARAGRAPH_POOL = 4096;

let pool: string[] | undefined;
function paragraphs(): string[] {
  if (pool) return pool;
  // A vocabulary of 600 common words plus 2,000 made-up ones (product names, jargon), so the
  // prose has a realistic word-frequency spread.
  const r = new Prng(777);
  const made: string[] = [];
  for (let i = 0; i < 2000; i++) {
    let w = '';
    const k = r.int(2, 4);
    for (let j = 0; j < k; j++) w += r.pick(SYLLABLES);
    made.push(w);
  }
  pool = [];
  for (let p = 0; p < PARAGRAPH_POOL; p++) {
    const words = r.int(35, 110);
    const out: string[] = [];
    for (let w = 0; w < words; w++) {
      let word = r.chance(0.7) ? r.pick(COMMON) : r.pick(made);
      if (w === 0 || out[out.length - 1]?.endsWith('.')) word = word[0].toUpperCase() + word.slice(1);
      if (r.chance(0.08) || w === words - 1) word += '.';
      else if (r.chance(0.06)) word += ',';
      out.push(word);
    }
    pool.push(out.join(' '));
  }
  return pool;
}

const CSS =
  'body{margin:0;padding:0;background:#f4f5f7;-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}table,td{border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt}img{border:0;height:auto;line-height:100%;outline:none;text-decoration:none}' +
  'p{margin:0 0 12px 0}a{color:#1a73e8;text-decoration:underline}.wrapper{width:100%;background:#f4f5f7}.container{width:600px;max-width:600px;background:#ffffff}.content{padding:24px 32px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#222222}' +
  '.footer{padding:16px 32px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#8a8f98}.button{display:inline-block;padding:10px 18px;border-radius:4px;background:#1a73e8;color:#ffffff!important;text-decoration:none}' +
  '@media only screen and (max-width:620px){.container{width:100%!important}.content{padding:16px!important}.footer{padding:12px 16px!important}}';
const TD = '<td class="content" style="padding:0 32px 12px 32px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#222222;">';

export interface Bodies {
  html: string;
  text: string;
  headers: string;
  rawSize: number;
}

export function makeBodies(ds: Dataset, i: number, m: MessageStrings): Bodies {
  const r = new Prng((ds.seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const paras = paragraphs();
  const target = r.logUniform(5_000, 50_000);
  const track = `https://trk.${m.tenant.domain}`;
  const greeting = `Hi ${m.lead?.first ?? 'there'},`;
  const html: string[] = [
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="X-UA-Compatible" content="IE=edge"><title>${m.subject}</title><style type="text/css">${CSS}</style></head>`,
    `<body style="margin:0;padding:0;background:#f4f5f7;"><table role="presentation" class="wrapper" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center"><table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0" border="0">`,
    `<tr>${TD}<p>${greeting}</p></td></tr>`,
  ];
  const text: string[] = [greeting];
  let htmlLen = html.reduce((a, s) => a + s.length, 0);
  const footer =
    `<tr><td class="footer" style="padding:16px 32px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#8a8f98;">${m.mailbox.name} &middot; ${m.tenant.name}<br>` +
    `You are receiving this because we believe it is relevant to your work at ${m.lead?.company ?? 'your company'}. <a href="${track}/u/${r.hex(32)}" style="color:#8a8f98;">Unsubscribe</a></td></tr>` +
    `</table></td></tr></table><img src="${track}/o/${r.hex(40)}.gif" width="1" height="1" alt="" style="display:block;border:0;"></body></html>`;
  htmlLen += footer.length;
  let quoteDepth = 0;
  while (htmlLen < target) {
    const p = paras[r.u32() % PARAGRAPH_POOL];
    let row: string;
    if (r.chance(0.3)) {
      // A tracked link inside the paragraph (random token: incompressible, like real ones).
      const cut = p.indexOf(' ', (p.length / 2) | 0);
      const href = `${track}/c/${r.base64(48).replace(/[+/]/g, 'x')}`;
      row = `<tr>${TD}<p>${p.slice(0, cut)} <a href="${href}" style="color:#1a73e8;text-decoration:underline;">${p.slice(cut + 1, cut + 30)}</a>${p.slice(cut + 30)}</p></td></tr>`;
      text.push(`${p} [${href}]`);
    } else if (ds.depth[i] > 0 && quoteDepth < 6 && r.chance(0.12)) {
      // Quoted history of the thread.
      quoteDepth++;
      row = `<tr>${TD}<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On ${new Date(ds.created[i] - quoteDepth * 86_400_000).toUTCString()} ${m.to} wrote:<br></div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">${p}</blockquote></div></td></tr>`;
      text.push(`> ${p}`);
    } else {
      row = `<tr>${TD}<p>${p}</p></td></tr>`;
      text.push(p);
    }
    html.push(row);
    htmlLen += row.length;
  }
  html.push(footer);
  text.push(`-- \\n${m.mailbox.name}\\nUnsubscribe: ${track}/u`);
  const htmlStr = html.join('');
  const textStr = text.join('\\n\\n');
  const headers = makeHeaders(r, ds, i, m);
  return { html: htmlStr, text: textStr, headers, rawSize: htmlStr.length + textStr.length + headers.length + 600 };
}

function makeHeaders(r: Prng, ds: Dataset, i: number, m: MessageStrings): string {
  const date = new Date(ds.created[i]).toUTCString().replace('GMT', '+0000');
  const hops = r.int(1, 3);
  const received: string[] = [];
  for (let h = 0; h < hops; h++) {
    const ip = `${r.int(10, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
    received.push(
      `from mx${r.int(1, 40)}.${h % 2 ? 'mail-relay' : 'smtp-out'}.${m.tenant.domain} (mx${r.int(1, 40)}.${m.tenant.domain} [${ip}]) by mx.${m.to.split('@')[1]} with ESMTPS id ${r.hex(12)} for <${m.to}> (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); ${date}`,
    );
  }
  const h: Record<string, unknown> = {
    Received: received,
    'Return-Path': `<bounces+${r.hex(10)}@${m.tenant.domain}>`,
    'DKIM-Signature': `v=1; a=rsa-sha256; c=relaxed/relaxed; d=${m.tenant.domain}; s=pm${r.int(1, 9)}; t=${Math.floor(ds.created[i] / 1000)}; h=from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe; bh=${r.base64(43)}=; b=${r.base64(344)}`,
    'Authentication-Results': `mx.${m.to.split('@')[1]}; dkim=pass header.i=@${m.tenant.domain} header.s=pm1 header.b=${r.base64(8)}; spf=pass (domain of ${m.from} designates ${r.int(10, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)} as permitted sender) smtp.mailfrom=${m.from}; dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=${m.tenant.domain}`,
    From: `${m.mailbox.name} <${m.from}>`,
    To: m.to,
    Subject: m.subject,
    Date: date,
    'Message-ID': m.providerMessageId,
    'MIME-Version': '1.0',
    'Content-Type': `multipart/alternative; boundary="000000000000${r.hex(16)}"`,
    'List-Unsubscribe': `<https://trk.${m.tenant.domain}/u/${r.hex(32)}>, <mailto:unsubscribe+${r.hex(16)}@${m.tenant.domain}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    'X-Mailer': 'PenguinMails/2.4',
    'X-PM-Tenant': m.tenantId,
    'X-PM-Mailbox': m.mailboxId,
  };
  if (m.campaignId) h['X-PM-Campaign'] = m.campaignId;
  if (m.parentId) {
    h['In-Reply-To'] = `<${m.parentId.replace(/-/g, '').slice(0, 20)}@${m.tenant.domain}>`;
    h['References'] = Array.from({ length: Math.min(ds.depth[i], 8) }, () => `<${r.hex(20)}@${m.tenant.domain}>`).join(' ');
  }
  if (m.direction === 'inbound') {
    h['ARC-Seal'] = `i=1; a=rsa-sha256; t=${Math.floor(ds.created[i] / 1000)}; cv=none; d=google.com; s=arc-20240605; b=${r.base64(344)}`;
    h['ARC-Message-Signature'] = `i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com; s=arc-20240605; h=to:subject:message-id:date:from:mime-version:dkim-signature; bh=${r.base64(43)}=; fh=${r.base64(43)}=; b=${r.base64(344)}`;
  }
  // JSON.stringify writes no raw newline or tab; its backslashes (\" in the boundary) need
  // doubling for COPY's text format.
  return JSON.stringify(h).replace(/\\/g, '\\\\');
}
