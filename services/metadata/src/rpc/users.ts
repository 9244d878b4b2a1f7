import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { userRole, userStatus } from '../domain/enums';
import { assertTenant } from '../domain/tenants';
import * as users from '../domain/users';
import { nullIfEmpty, pageSizeOf, tenantOf } from './fields';
import { userToProto } from './mappers';

export function userHandlers(deps: ServerDeps) {
  return {
    async createUser(req: metadataV1.CreateUserRequest): Promise<metadataV1.CreateUserResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const email = v.email('email', req.email);
      const name = v.string('name', req.name, { max: 200 });
      const role = req.role ? v.enumValue('role', req.role, userRole.names) : metadataV1.UserRole.USER_ROLE_MEMBER;
      const status = req.status ? v.enumValue('status', req.status, userStatus.names) : metadataV1.UserStatus.USER_STATUS_ACTIVE;
      v.done();
      await assertTenant(deps.prisma, tenantId);
      const row = await users.createUser(deps.prisma, { tenantId, email, name: nullIfEmpty(name), role: userRole.toDb(role), status: userStatus.toDb(status) });
      return { user: userToProto(row) };
    },
    async getUser(req: metadataV1.GetUserRequest): Promise<metadataV1.GetUserResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('user_id', req.userId);
      v.done();
      return { user: userToProto(await users.getUser(deps.prisma, tenantId, id)) };
    },
    async updateUser(req: metadataV1.UpdateUserRequest): Promise<metadataV1.UpdateUserResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('user_id', req.userId);
      const patch: Parameters<typeof users.updateUser>[3] = {};
      if (req.email !== undefined) patch.email = v.email('email', req.email);
      if (req.name !== undefined) patch.name = nullIfEmpty(v.string('name', req.name, { max: 200 }));
      if (req.role !== undefined) patch.role = userRole.toDb(v.enumValue('role', req.role, userRole.names)) ?? undefined;
      if (req.status !== undefined) patch.status = userStatus.toDb(v.enumValue('status', req.status, userStatus.names));
      v.done();
      return { user: userToProto(await users.updateUser(deps.prisma, tenantId, id, patch)) };
    },
    async listUsers(req: metadataV1.ListUsersRequest): Promise<metadataV1.ListUsersResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const status = req.status ? userStatus.toDb(v.enumValue('status', req.status, userStatus.names)) : undefined;
      const role = req.role ? userRole.toDb(v.enumValue('role', req.role, userRole.names)) : undefined;
      const binding = JSON.stringify(['users', tenantId, status, role]);
      const size = pageSizeOf(v, deps, req.page);
      v.done();
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const res = await users.listUsers(deps.pool, tenantId, { status, role }, cursor, size);
      return { users: res.rows.map(userToProto), page: { nextPageToken: encodeCursor(deps.pageTokens, res.next, binding) } };
    },
    async deleteUser(req: metadataV1.DeleteUserRequest): Promise<metadataV1.DeleteUserResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('user_id', req.userId);
      v.done();
      await users.deleteUser(deps.prisma, tenantId, id);
      return {};
    },
  };
}
