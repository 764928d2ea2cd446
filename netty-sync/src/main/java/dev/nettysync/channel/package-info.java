/**
 * The Channel-facing side of the limiters: {@link dev.nettysync.channel.ChannelLimits} binds a
 * wait and a permit to a channel's life (a client that goes away frees its queue slot and its
 * permit with no close listener to write), and {@link dev.nettysync.channel.LimitingHandler}
 * limits the inbound messages a pipeline works on, by back-pressure or by refusal.
 *
 * <p>This package builds on {@code dev.nettysync.limit}; nothing there depends on it.
 */
package dev.nettysync.channel;
