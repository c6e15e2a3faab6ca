//! Roles carry permissions: the one table that says what owners, moderators and members may do.

use serde::Serialize;
use utoipa::ToSchema;

use crate::Role;

/// Something a role may allow in a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See the server's channels, members and roles.
    ViewChannels,
    /// Send messages in the server's channels.
    SendMessages,
    /// Create invitations (and list or revoke one's own).
    CreateInvitations,
    /// List and revoke everyone's invitations.
    ManageInvitations,
    /// Create channels.
    ManageChannels,
    /// Add and remove members (never the owner; moderators only members).
    ManageMembers,
    /// Change members' roles.
    ManageRoles,
}

/// Every permission, in a stable order.
pub const ALL_PERMISSIONS: [Permission; 7] = [
    Permission::ViewChannels,
    Permission::SendMessages,
    Permission::CreateInvitations,
    Permission::ManageInvitations,
    Permission::ManageChannels,
    Permission::ManageMembers,
    Permission::ManageRoles,
];

/// A role with the permissions it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RolePermissions {
    /// The role.
    pub role: Role,
    /// What it allows.
    pub permissions: Vec<Permission>,
}

/// Whether `role` carries `permission`.
pub(crate) fn role_has(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Owner => true,
        Role::Moderator => !matches!(permission, ManageRoles),
        Role::Member => matches!(permission, ViewChannels | SendMessages | CreateInvitations),
    }
}

/// The permissions of every role, owner first.
pub(crate) fn role_table() -> Vec<RolePermissions> {
    [Role::Owner, Role::Moderator, Role::Member]
        .into_iter()
        .map(|role| RolePermissions {
            role,
            permissions: ALL_PERMISSIONS
                .into_iter()
                .filter(|p| role_has(role, *p))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        let table = role_table();
        assert_eq!(table[0].permissions.len(), ALL_PERMISSIONS.len());
        assert!(!role_has(Role::Moderator, Permission::ManageRoles));
        assert!(role_has(Role::Moderator, Permission::ManageMembers));
        assert!(!role_has(Role::Member, Permission::ManageChannels));
        assert!(role_has(Role::Member, Permission::CreateInvitations));
        // Each role's permissions include those of the roles below it.
        for w in table.windows(2) {
            assert!(
                w[1].permissions
                    .iter()
                    .all(|p| w[0].permissions.contains(p))
            );
        }
    }
}
