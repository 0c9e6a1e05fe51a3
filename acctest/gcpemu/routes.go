package gcpemu

import (
	"encoding/json"
	"net/http"
	"strings"
)

// computeRoute is a parsed /compute/v1 request path.
type computeRoute struct {
	op      string
	project string
	name    string // image, family or operation name
}

// parseCompute splits /compute/v1/projects/{p}/global/{images|operations}/...
func parseCompute(r *http.Request) (computeRoute, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/projects/")
	if !ok {
		return computeRoute{op: OpComputeOther}, false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) < 3 || parts[1] != "global" {
		return computeRoute{op: OpComputeOther}, false
	}
	rt := computeRoute{project: parts[0], op: OpComputeOther}
	m := r.Method
	switch tail := parts[2:]; {
	case tail[0] == "images" && len(tail) == 1 && m == http.MethodPost:
		rt.op = OpImagesInsert
	case tail[0] == "images" && len(tail) == 1 && m == http.MethodGet:
		rt.op = OpImagesList
	case tail[0] == "images" && len(tail) == 3 && tail[1] == "family" && m == http.MethodGet:
		rt.op, rt.name = OpImagesFamily, tail[2]
	case tail[0] == "images" && len(tail) == 2 && m == http.MethodGet:
		rt.op, rt.name = OpImagesGet, tail[1]
	case tail[0] == "images" && len(tail) == 2 && m == http.MethodDelete:
		rt.op, rt.name = OpImagesDelete, tail[1]
	case tail[0] == "images" && len(tail) == 3 && tail[2] == "deprecate" && m == http.MethodPost:
		rt.op, rt.name = OpImagesDeprecate, tail[1]
	case tail[0] == "operations" && len(tail) == 2 && m == http.MethodGet:
		rt.op, rt.name = OpOperationsGet, tail[1]
	case tail[0] == "operations" && len(tail) == 3 && tail[2] == "wait" && m == http.MethodPost:
		rt.op, rt.name = OpOperationsWait, tail[1]
	default:
		return rt, false
	}
	return rt, true
}

// operationOf names the API operation of r, for fault injection.
func operationOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/compute/"):
		rt, _ := parseCompute(r)
		return rt.op
	case strings.HasPrefix(p, "/upload/storage/v1/"):
		if r.URL.Query().Has(resumableUploadArg) {
			return OpUploadChunk
		}
		return OpUploadStart
	case strings.HasPrefix(p, "/storage/v1/b/"):
		rest := strings.TrimPrefix(p, "/storage/v1/b/")
		_, obj, hasObj := strings.Cut(rest, "/o/")
		switch {
		case hasObj && obj != "" && r.Method == http.MethodDelete:
			return OpObjectsDelete
		case hasObj && obj != "" && r.Method == http.MethodGet:
			return OpObjectsGet
		case strings.HasSuffix(rest, "/o") && r.Method == http.MethodGet:
			return OpObjectsList
		}
	}
	return OpStorageOther
}

// apiError is the JSON error body of Google APIs.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Errors  []apiErrorItem `json:"errors"`
}

type apiErrorItem struct {
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{
		Code: status, Message: msg,
		Errors: []apiErrorItem{{Domain: "global", Reason: reason, Message: msg}},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
