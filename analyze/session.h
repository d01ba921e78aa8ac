/* Sessions (session.c): the structures live in engine.h. */
#ifndef KP_SESSION_H
#define KP_SESSION_H

#include "engine.h"

/* Add a key record / a media flow to its session (after its own event). */
void kp_session_add_key(struct kp_engine *eng, const struct kp_key_rec *k);
void kp_session_add_media(struct kp_engine *eng, const struct kp_media_rec *m);

/* Judge and deliver a session event (the session stays owned by the caller). */
void kp_session_emit(struct kp_engine *eng, struct kp_session *s);

/* End of input: emit every open session, oldest first. */
void kp_session_finish(struct kp_engine *eng);

/* Free every session without emitting. */
void kp_session_free_all(struct kp_engine *eng);

#endif
