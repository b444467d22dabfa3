/** The GPU workers as they announce themselves: who is there, in which state, holding what, offering what. */
package io.forgequeue.gateway.fleet;
