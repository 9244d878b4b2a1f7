import { join } from 'node:path';
import { assertMigrationsMatchPrismaSchema } from '@penguinmails/testkit';

// schema.prisma feeds the Prisma client; the SQL migrations build the real database. This
// proves they describe the same tables, columns, keys and indexes (see prisma/migration-only.json
// for what only the migrations can hold).
test('prisma/schema.prisma and prisma/migrations agree', async () => {
  await assertMigrationsMatchPrismaSchema(join(__dirname, '..'));
});
