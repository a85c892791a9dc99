// SPDX-License-Identifier: MIT
// Built with -std=c++11 -Wall -Wextra -Wpedantic -Werror: the public headers
// compile cleanly as C++, and a tparker_t works from C++.
#include <tparker/backend.h>
#include <tparker/lot.h>
#include <tparker/sync.h>
#include <tparker/tparker.h>

static_assert(sizeof(tparker_t) == TPARKER_SIZE, "tparker_t is TPARKER_SIZE bytes");
static_assert(alignof(tparker_t) == 16, "tparker_t is 16-aligned");

namespace
{

struct holder {
	char c;
	tparker_t parker;
};
static_assert(offsetof(holder, parker) % 16 == 0, "embedded tparker_t stays aligned");

} // namespace

int main()
{
	holder h;
	if (tparker_init(&h.parker) != 0)
		return 1;
	tparker_prepare_park(&h.parker);
	tparker_unpark_handle_t u = tparker_unpark_lock(&h.parker);
	tparker_unpark(u);
	tparker_park(&h.parker);

	tparker_prepare_park(&h.parker);
	struct timespec past = {0, 0};
	bool woken = tparker_park_until(&h.parker, &past);
	bool timed_out = tparker_timed_out(&h.parker);
	tparker_destroy(&h.parker);
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_mutex_lock(&m);
	tparker_mutex_unlock(&m);
	tparker_park_result_t r = tparker_lot_park(reinterpret_cast<uintptr_t>(&m), nullptr,
						   nullptr, nullptr, nullptr, 0, &past);
	if (r.status != TPARKER_PARK_TIMED_OUT)
		return 1;
	return !woken && timed_out ? 0 : 1;
}
