/*
 * topic_tree.h - a trie of topic filters split on '/', so matching a topic
 * costs one walk per level instead of a scan of every filter. Used to route
 * inbound messages to per-filter handlers. Values are opaque to the tree.
 */
#ifndef LIA_TOPIC_TREE_H
#define LIA_TOPIC_TREE_H

#include <stddef.h>

struct topic_tree;

typedef void topic_match_fn(const char *filter, void *value, void *ud);

struct topic_tree *topic_tree_new(void);
void topic_tree_free(struct topic_tree *t);
/* Insert or replace the value for an exact filter; 0 or -1 (ENOMEM). The
 * filter string is copied. */
int topic_tree_insert(struct topic_tree *t, const char *filter, void *value);
/* Remove a filter; returns its value or NULL when absent. Empty nodes are
 * pruned. */
void *topic_tree_remove(struct topic_tree *t, const char *filter);
void *topic_tree_get(const struct topic_tree *t, const char *filter);
/* Call fn for every filter matching topic (MQTT rules: '+', '#', '$' topics
 * not matched by leading wildcards; "$share/g/f" stored as f). Returns the
 * number of matches. fn must not modify the tree. */
size_t topic_tree_match(const struct topic_tree *t, const char *topic,
	topic_match_fn *fn, void *ud);
size_t topic_tree_count(const struct topic_tree *t);

#endif
