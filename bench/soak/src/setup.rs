//! The soak's community, made through the public API as its owner: one server with voice
//! rooms and text channels; joiner, sender and subscriber users as members; and, for each text
//! channel, one group (epoch 1) holding the owner's, every sender's and every subscriber's device.

use crate::api::Api;
use anyhow::Context;
use serde_json::json;

/// The device id every soak user uses.
pub const DEVICE: &str = "d0";

/// A chat user: id and access token (device [`DEVICE`]).
#[derive(Clone, Debug)]
pub struct ChatUser {
    /// User id.
    pub user_id: String,
    /// Access token.
    pub token: String,
}

/// What [`create`] made.
#[derive(Clone, Debug)]
pub struct Community {
    /// The server (community) id.
    pub server_id: String,
    /// Voice channels (rooms).
    pub rooms: Vec<String>,
    /// Text channels, each at epoch 1 with every chat device in its group.
    pub channels: Vec<String>,
    /// The owner, a member of every group (reads history at the end).
    pub owner: ChatUser,
    /// Message senders.
    pub senders: Vec<ChatUser>,
    /// Realtime subscribers.
    pub subscribers: Vec<ChatUser>,
}

/// How many of each.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Voice rooms.
    pub rooms: usize,
    /// Joiner users (all members; the churn reuses them).
    pub joiners: usize,
    /// Text channels.
    pub channels: usize,
    /// Senders.
    pub senders: usize,
    /// Subscribers.
    pub subscribers: usize,
}

/// User id of joiner slot `index` (as `rtc_joiner::load::openchat::user_id`).
pub fn joiner_user(run_id: &str, index: usize) -> String {
    rtc_joiner::load::openchat::user_id(run_id, index)
}

/// Makes the community.
pub async fn create(api: &Api, run_id: &str, sizes: Sizes) -> anyhow::Result<Community> {
    let owner = chat_user(api, &format!("{run_id}-owner")).await?;
    let server_id = format!("{run_id}-srv");
    api.create(
        &owner.token,
        "/v1/servers",
        json!({"id": server_id, "name": format!("soak {run_id}")}),
    )
    .await?;
    let channel = |id: String, kind: &'static str| {
        let path = format!("/v1/servers/{server_id}/channels");
        let token = owner.token.clone();
        async move {
            api.create(&token, &path, json!({"id": id, "name": id, "kind": kind}))
                .await?;
            anyhow::Ok(id)
        }
    };
    let mut rooms = Vec::new();
    for i in 0..sizes.rooms {
        rooms.push(channel(format!("{run_id}-r{i}"), "voice").await?);
    }
    let mut channels = Vec::new();
    for i in 0..sizes.channels {
        channels.push(channel(format!("{run_id}-t{i}"), "text").await?);
    }
    let sender_ids: Vec<String> = (0..sizes.senders)
        .map(|i| format!("{run_id}-s{i}"))
        .collect();
    let subscriber_ids: Vec<String> = (0..sizes.subscribers)
        .map(|i| format!("{run_id}-l{i}"))
        .collect();
    let joiner_ids = (0..sizes.joiners).map(|i| joiner_user(run_id, i));
    let members_path = format!("/v1/servers/{server_id}/members");
    for user in joiner_ids
        .chain(sender_ids.iter().cloned())
        .chain(subscriber_ids.iter().cloned())
    {
        api.create(&owner.token, &members_path, json!({"user_id": user}))
            .await?;
    }
    let mut senders = Vec::new();
    for id in &sender_ids {
        senders.push(chat_user(api, id).await?);
    }
    let mut subscribers = Vec::new();
    for id in &subscriber_ids {
        subscribers.push(chat_user(api, id).await?);
    }
    let added: Vec<_> = std::iter::once(&owner)
        .chain(&senders)
        .chain(&subscribers)
        .map(|u| json!({"user_id": u.user_id, "device_id": DEVICE}))
        .collect();
    for channel in &channels {
        api.create(
            &owner.token,
            &format!("/v1/channels/{channel}/membership/commit"),
            json!({"epoch": 0, "commit": "c29haw==", "added": added}),
        )
        .await
        .with_context(|| format!("bootstrapping the group of {channel}"))?;
    }
    Ok(Community {
        server_id,
        rooms,
        channels,
        owner,
        senders,
        subscribers,
    })
}

/// A token for `user_id` on [`DEVICE`], with the device registered (`GET /v1/devices`).
async fn chat_user(api: &Api, user_id: &str) -> anyhow::Result<ChatUser> {
    let token = api.token(user_id, DEVICE).await?;
    let (status, body) = api.get(&token, "/v1/devices").await?;
    anyhow::ensure!(
        status == 200,
        "registering {user_id}'s device: {status} {body}"
    );
    Ok(ChatUser {
        user_id: user_id.to_owned(),
        token,
    })
}
