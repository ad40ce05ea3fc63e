//! Broadcast operators (Node's `BroadcastOperator`): choose sockets by rooms, then
//! emit to them, or make them join, leave or disconnect — on every shard.
//!
//! A broadcast is encoded once; this shard's recipients and each peer shard get the
//! same refcounted bytes, and a peer gets the room selector, never a list of sockets.

use std::rc::Rc;
use std::sync::Arc;

use bytestring::ByteString;

use super::api::{EmitError, RawArgs};
use super::layer::{Layer, is_reserved, raw_packet};
use super::namespace::NamespaceState;
use crate::adapter::{BroadcastOptions, EncodedPacket};
use crate::protocol::value::Value;

/// A selection of a namespace's sockets, built up with `to`/`except`/flags.
#[derive(Clone)]
pub struct Broadcast {
    layer: Rc<Layer>,
    ns: Rc<NamespaceState>,
    opts: BroadcastOptions,
}

impl Broadcast {
    pub(crate) fn new(layer: Rc<Layer>, ns: Rc<NamespaceState>) -> Self {
        Broadcast { layer, ns, opts: BroadcastOptions::new() }
    }

    /// Only sockets in `room` (several calls make a union).
    pub fn to(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.to(room.into());
        self
    }

    /// Node's `in`, the same as [`Broadcast::to`].
    pub fn within(self, room: impl Into<ByteString>) -> Self {
        self.to(room)
    }

    /// Not the sockets in `room`.
    pub fn except(mut self, room: impl Into<ByteString>) -> Self {
        self.opts = self.opts.except(room.into());
        self
    }

    /// Dropped for sockets whose outgoing queue is full, instead of disconnecting them.
    pub fn volatile(mut self) -> Self {
        self.opts = self.opts.volatile();
        self
    }

    /// Only this shard's sockets.
    pub fn local(mut self) -> Self {
        self.opts = self.opts.local();
        self
    }

    /// Whether the payload may be compressed (HTTP compression / permessage-deflate).
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts = self.opts.compress(compress);
        self
    }

    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    pub fn emit(&self, event: &str, args: &[Value]) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let packet = EncodedPacket::event(self.ns.name.clone(), event, args, None);
        self.layer.broadcast(&self.ns, self.opts.clone(), Arc::new(packet));
        Ok(())
    }

    /// Emits arguments exactly as received elsewhere (no re-encoding).
    pub fn emit_raw(&self, event: &str, args: &RawArgs) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let packet = raw_packet(false, self.ns.name.clone(), Some(event), None, args);
        let encoded = EncodedPacket::new(&packet, args.attachments.clone());
        self.layer.broadcast(&self.ns, self.opts.clone(), Arc::new(encoded));
        Ok(())
    }

    /// The selected sockets join `room` (Node's `socketsJoin`).
    pub fn sockets_join(&self, room: impl Into<ByteString>) {
        self.layer.rooms(&self.ns, self.opts.clone(), vec![room.into()], true);
    }

    /// The selected sockets leave `room` (Node's `socketsLeave`).
    pub fn sockets_leave(&self, room: impl Into<ByteString>) {
        self.layer.rooms(&self.ns, self.opts.clone(), vec![room.into()], false);
    }

    /// Disconnects the selected sockets (Node's `disconnectSockets`); with `close`, their
    /// Engine.IO connections too.
    pub fn disconnect_sockets(&self, close: bool) {
        self.layer.disconnect_sockets(&self.ns, self.opts.clone(), close);
    }
}
