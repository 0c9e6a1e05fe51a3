package gcpemu

import (
	"context"
	"fmt"
	"net/http"
	"time"

	compute "google.golang.org/api/compute/v1"
)

// opRecord is one global operation and the signal that it is DONE.
type opRecord struct {
	op   compute.Operation
	done chan struct{}
}

// startOp registers a PENDING operation on target and runs work after the
// configured delay; work returns an error to end the operation with it.
// Call with c.mu held.
func (c *computeState) startOp(project, kind, requestID string, target *imageRecord, work func() *compute.OperationErrorErrors) *opRecord {
	c.nextID++
	now := c.now()
	name := fmt.Sprintf("operation-%d-%d", now.UnixNano(), c.nextID)
	rec := &opRecord{done: make(chan struct{}), op: compute.Operation{
		Kind: "compute#operation", Id: c.nextID, Name: name, OperationType: kind,
		Status: "PENDING", Progress: 0, InsertTime: now.Format(time.RFC3339Nano),
		SelfLink:   c.link(project, "operations", name),
		TargetLink: target.img.SelfLink, TargetId: target.img.Id, User: "emulator@gcpemu",
	}}
	c.ops[project+"/"+name] = rec
	if requestID != "" {
		c.requests[project+"/"+requestID] = project + "/" + name
	}
	go c.runOp(rec, work)
	return rec
}

// runOp moves rec to RUNNING, waits the delay, runs work and ends DONE.
func (c *computeState) runOp(rec *opRecord, work func() *compute.OperationErrorErrors) {
	c.mu.Lock()
	rec.op.Status, rec.op.StartTime, rec.op.Progress = "RUNNING", c.now().Format(time.RFC3339Nano), 50
	c.mu.Unlock()
	select {
	case <-time.After(c.opDelay):
	case <-c.stop:
		return
	}
	failure := work() // runs without c.mu: it may read GCS
	c.mu.Lock()
	defer c.mu.Unlock()
	rec.op.Status, rec.op.Progress, rec.op.EndTime = "DONE", 100, c.now().Format(time.RFC3339Nano)
	if failure != nil {
		rec.op.Error = &compute.OperationError{Errors: []*compute.OperationErrorErrors{failure}}
		rec.op.HttpErrorStatusCode = http.StatusBadRequest
		rec.op.HttpErrorMessage = "BAD REQUEST"
	}
	close(rec.done)
}

func (c *computeState) opGet(w http.ResponseWriter, rt computeRoute) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.ops[rt.project+"/"+rt.name]
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/global/operations/%s' was not found", rt.project, rt.name))
		return
	}
	writeJSON(w, http.StatusOK, rec.op)
}

// opWait answers when the operation is DONE or after the wait timeout
// (two minutes on GCE), with the operation as it is then.
func (c *computeState) opWait(w http.ResponseWriter, r *http.Request, rt computeRoute) {
	c.mu.Lock()
	rec, ok := c.ops[rt.project+"/"+rt.name]
	c.mu.Unlock()
	if !ok {
		c.opGet(w, rt)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.waitTimeout)
	defer cancel()
	select {
	case <-rec.done:
	case <-ctx.Done():
	case <-c.stop:
	}
	c.opGet(w, rt)
}
