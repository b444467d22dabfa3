/**
 * forge-sim: a stand-in for Stable Diffusion WebUI Forge that speaks Forge's HTTP API, plus an admin API for
 * fault injection and GPU duty-cycle statistics. One package on purpose: it is a small test tool whose parts
 * (HTTP routing, generation engine, PNG rendering) are package-private collaborators; only the entry point
 * ({@link io.forgequeue.forgesim.ForgeSimMain}), the in-process server, its configuration and the test helpers
 * ({@link io.forgequeue.forgesim.ForgeSimProcess}, {@link io.forgequeue.forgesim.ForgeSimAdmin}) are public.
 */
package io.forgequeue.forgesim;
