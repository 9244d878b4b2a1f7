import { join } from 'node:path';
import { assertMigrationsMatchPrismaSchema } from '@penguinmails/testkit';

// schema.prisma (the client's truth) and prisma/migrations (the database's truth) must agree;
// Prisma-inexpressible objects are listed in prisma/migration-only.json.
it('migrations produce exactly the schema.prisma schema', async () => {
  await assertMigrationsMatchPrismaSchema(join(__dirname, '..'));
}, 120_000);
