import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newId } from '../src/domain/ids.js';
import { startControlPlane, type TestControlPlane } from './harness.js';

interface Account {
  token: string;
  email: string;
  userId: string;
  personalTeamId: string;
}

describe('teams and members', () => {
  let t: TestControlPlane;

  const signup = async (): Promise<Account> => {
    const email = `u-${randomBytes(4).toString('hex')}@example.test`;
    const r = await t.api('POST', '/v1/auth/signup', { body: { email, password: 'password1' } });
    assert.equal(r.status, 201);
    return { token: r.body.token, email, userId: r.body.user.id, personalTeamId: r.body.team.id };
  };

  /** A team owned by a new user, with an admin and a member added through the API. */
  const teamOfThree = async () => {
    const owner = await signup();
    const admin = await signup();
    const member = await signup();
    const team = await t.api('POST', '/v1/teams', { auth: owner.token, body: { name: 'crew' } });
    assert.equal(team.status, 201);
    const teamId: string = team.body.id;
    assert.equal((await t.api('POST', `/v1/teams/${teamId}/members`, { auth: owner.token, body: { email: admin.email, role: 'admin' } })).status, 201);
    assert.equal((await t.api('POST', `/v1/teams/${teamId}/members`, { auth: owner.token, body: { email: member.email } })).status, 201);
    return { owner, admin, member, teamId };
  };

  before(async () => {
    t = await startControlPlane();
  });
  after(async () => {
    await t?.close();
  });

  test('creating a team makes me its owner; GET /teams lists my teams with my role', async () => {
    const u = await signup();
    const created = await t.api('POST', '/v1/teams', { auth: u.token, body: { name: '  Research  ' } });
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^team-/);
    assert.equal(created.body.name, 'Research');
    assert.equal(created.body.role, 'owner');
    const list = await t.api('GET', '/v1/teams', { auth: u.token });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.map((x: { id: string; role: string }) => [x.id, x.role]),
      [
        [u.personalTeamId, 'owner'],
        [created.body.id, 'owner'],
      ],
    );
  });

  test('a team I am not a member of is a 404 on every team route', async () => {
    const { teamId, member } = await teamOfThree();
    const outsider = await signup();
    const calls: Array<[string, string, unknown?]> = [
      ['GET', `/v1/teams/${teamId}`],
      ['PATCH', `/v1/teams/${teamId}`, { name: 'mine now' }],
      ['DELETE', `/v1/teams/${teamId}`],
      ['GET', `/v1/teams/${teamId}/members`],
      ['POST', `/v1/teams/${teamId}/members`, { email: outsider.email }],
      ['PATCH', `/v1/teams/${teamId}/members/${member.userId}`, { role: 'admin' }],
      ['DELETE', `/v1/teams/${teamId}/members/${member.userId}`],
      ['GET', '/v1/teams/team-doesnotexist'],
    ];
    for (const [method, path, body] of calls) {
      const r = await t.api(method, path, { auth: outsider.token, ...(body ? { body } : {}) });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error.reason, 'not_found');
    }
  });

  test('GET /teams/{id} and its members are visible to every member', async () => {
    const { teamId, owner, admin, member } = await teamOfThree();
    const team = await t.api('GET', `/v1/teams/${teamId}`, { auth: member.token });
    assert.equal(team.status, 200);
    assert.equal(team.body.member_count, 3);
    assert.equal(team.body.role, 'member');
    const members = await t.api('GET', `/v1/teams/${teamId}/members`, { auth: member.token });
    assert.equal(members.status, 200);
    assert.deepEqual(
      members.body.map((m: { user_id: string; role: string }) => [m.user_id, m.role]),
      [
        [owner.userId, 'owner'],
        [admin.userId, 'admin'],
        [member.userId, 'member'],
      ],
    );
  });

  test('renaming needs owner or admin; a member gets 403', async () => {
    const { teamId, owner, admin, member } = await teamOfThree();
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}`, { auth: owner.token, body: { name: 'by owner' } })).body.name, 'by owner');
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}`, { auth: admin.token, body: { name: 'by admin' } })).body.name, 'by admin');
    const r = await t.api('PATCH', `/v1/teams/${teamId}`, { auth: member.token, body: { name: 'by member' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /owner or admin/);
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}`, { auth: owner.token, body: { name: '' } })).status, 400);
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}`, { auth: owner.token, body: { name: 'x', extra: 1 } })).status, 400);
  });

  test('deleting a team: owner only, refused while a capsule is not stopped, refused for my only team', async () => {
    const { teamId, owner, admin } = await teamOfThree();
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}`, { auth: admin.token })).status, 403);
    // A capsule record in `running` (the state is what the rule reads; no host is involved).
    const capsuleId = newId('cl');
    await t.cp.ctx.db
      .insertInto('capsules')
      .values({ id: capsuleId, team_id: teamId, template: 'minimal', status: 'running', vcpus: 1, memory_mb: 512, disk_size_mb: 1024, timeout_sec: 0, metadata: '{}' })
      .execute();
    const refused = await t.api('DELETE', `/v1/teams/${teamId}`, { auth: owner.token });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /1 capsule\(s\) that are not stopped/);
    await t.cp.ctx.db.updateTable('capsules').set({ status: 'stopped' }).where('id', '=', capsuleId).execute();
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}`, { auth: owner.token })).status, 204);
    assert.equal((await t.api('GET', `/v1/teams/${teamId}`, { auth: owner.token })).status, 404);
    const only = await t.api('DELETE', `/v1/teams/${owner.personalTeamId}`, { auth: owner.token });
    assert.equal(only.status, 409);
    assert.match(only.body.error.message, /your only team/);
  });

  test('adding members: owner/admin by email; members cannot; only owners grant owner; an unknown email is invited alike; twice 409', async () => {
    const { teamId, admin, member } = await teamOfThree();
    const newcomer = await signup();
    const byMember = await t.api('POST', `/v1/teams/${teamId}/members`, { auth: member.token, body: { email: newcomer.email } });
    assert.equal(byMember.status, 403);
    const ownerByAdmin = await t.api('POST', `/v1/teams/${teamId}/members`, { auth: admin.token, body: { email: newcomer.email, role: 'owner' } });
    assert.equal(ownerByAdmin.status, 403);
    assert.match(ownerByAdmin.body.error.message, /only an owner/);
    const added = await t.api('POST', `/v1/teams/${teamId}/members`, { auth: admin.token, body: { email: newcomer.email.toUpperCase(), role: 'member' } });
    assert.equal(added.status, 201);
    assert.equal(added.body.user_id, newcomer.userId);
    assert.equal(added.body.role, 'member');
    const twice = await t.api('POST', `/v1/teams/${teamId}/members`, { auth: admin.token, body: { email: newcomer.email } });
    assert.equal(twice.status, 409);
    // An unregistered email is answered like a registered one (no way to probe who has an account).
    const nobody = `nobody-${randomBytes(4).toString('hex')}@example.test`;
    const unknown = await t.api('POST', `/v1/teams/${teamId}/members`, { auth: admin.token, body: { email: nobody } });
    assert.equal(unknown.status, 201, JSON.stringify(unknown.body));
    assert.deepEqual(Object.keys(unknown.body).sort(), Object.keys(added.body).sort());
    assert.equal(unknown.body.name, nobody.split('@')[0]);
    // Nobody can log in to the invitation; signing up with the email claims it, in the team.
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: nobody, password: '' + 'password1' } })).status, 401);
    const claimed = await t.api('POST', '/v1/auth/signup', { body: { email: nobody, password: 'password1' } });
    assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
    assert.equal(claimed.body.user.id, unknown.body.user_id);
    assert.equal((await t.api('POST', '/v1/auth/switch-team', { auth: claimed.body.token, body: { team_id: teamId } })).status, 200);
    // A registered email cannot be claimed by signing up.
    assert.equal((await t.api('POST', '/v1/auth/signup', { body: { email: nobody, password: 'password2' } })).status, 409);
    assert.equal((await t.api('POST', `/v1/teams/${teamId}/members`, { auth: admin.token, body: { email: newcomer.email, role: 'boss' } })).status, 400);
    // The new member can now switch to the team.
    assert.equal((await t.api('POST', '/v1/auth/switch-team', { auth: newcomer.token, body: { team_id: teamId } })).status, 200);
  });

  test('roles: the last owner cannot be demoted; with two owners one can step down', async () => {
    const { teamId, owner, admin, member } = await teamOfThree();
    const last = await t.api('PATCH', `/v1/teams/${teamId}/members/${owner.userId}`, { auth: owner.token, body: { role: 'admin' } });
    assert.equal(last.status, 409);
    assert.match(last.body.error.message, /last owner/);
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}/members/${member.userId}`, { auth: member.token, body: { role: 'admin' } })).status, 403);
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}/members/${owner.userId}`, { auth: admin.token, body: { role: 'member' } })).status, 403);
    const promoted = await t.api('PATCH', `/v1/teams/${teamId}/members/${admin.userId}`, { auth: owner.token, body: { role: 'owner' } });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.body.role, 'owner');
    const stepDown = await t.api('PATCH', `/v1/teams/${teamId}/members/${owner.userId}`, { auth: owner.token, body: { role: 'member' } });
    assert.equal(stepDown.status, 200);
    assert.equal(stepDown.body.role, 'member');
    // Roles come from the database, not the token: the old owner's token can no longer rename.
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}`, { auth: owner.token, body: { name: 'nope' } })).status, 403);
    assert.equal((await t.api('PATCH', `/v1/teams/${teamId}/members/usr-nobody`, { auth: admin.token, body: { role: 'admin' } })).status, 404);
  });

  test('removing: owner/admin remove members, a member may leave, nobody removes the last owner', async () => {
    const { teamId, owner, admin, member } = await teamOfThree();
    const other = await signup();
    assert.equal((await t.api('POST', `/v1/teams/${teamId}/members`, { auth: owner.token, body: { email: other.email } })).status, 201);
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}/members/${other.userId}`, { auth: member.token })).status, 403);
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}/members/${owner.userId}`, { auth: admin.token })).status, 403);
    const lastOwner = await t.api('DELETE', `/v1/teams/${teamId}/members/${owner.userId}`, { auth: owner.token });
    assert.equal(lastOwner.status, 409);
    assert.match(lastOwner.body.error.message, /last owner/);
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}/members/${other.userId}`, { auth: admin.token })).status, 204);
    // Leaving by oneself.
    const switched = await t.api('POST', '/v1/auth/switch-team', { auth: member.token, body: { team_id: teamId } });
    assert.equal((await t.api('DELETE', `/v1/teams/${teamId}/members/${member.userId}`, { auth: member.token })).status, 204);
    // A token for a team one left stops working at once.
    const stale = await t.api('GET', '/v1/me', { auth: switched.body.token });
    assert.equal(stale.status, 401);
    const members = await t.api('GET', `/v1/teams/${teamId}/members`, { auth: owner.token });
    assert.deepEqual(members.body.map((m: { user_id: string }) => m.user_id).sort(), [owner.userId, admin.userId].sort());
  });
});
