import type { PrismaClient } from './prisma';
import type { AttachmentRow } from './rows';

/**
 * One attachment of one tenant with its bytes, through Prisma (plain CRUD by primary key).
 * The parent must be live: an expired object's attachments are gone with it.
 */
export async function getAttachment(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
): Promise<(AttachmentRow & { content: Uint8Array }) | undefined> {
  const row = await prisma.attachment.findFirst({
    where: {
      id,
      tenantId,
      parent: { OR: [{ expires: null }, { expires: { gt: new Date() } }] },
    },
  });
  return row ?? undefined;
}
