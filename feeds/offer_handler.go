package feeds

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// reasonStatus maps why an offer is refused to an HTTP status.
var reasonStatus = map[string]int{
	ReasonMalformed:    http.StatusBadRequest,
	ReasonUnknownSite:  http.StatusNotFound,
	ReasonUnknownKey:   http.StatusForbidden,
	ReasonBadSignature: http.StatusForbidden,
	ReasonExpired:      http.StatusGone,
	ReasonNotYetValid:  http.StatusForbidden,
	ReasonWrongSite:    http.StatusForbidden,
}

// verifyOffer answers GET /api/offers/verify?token=[&site=] for shop
// checkouts: 200 with the offer, or a 4xx with a reason code and an
// explanation. The token is its own credential, so no other
// authentication applies; a checkout that names its site gets only its
// own site's offers (one shop cannot honour another's).
func (a *API) verifyOffer(c *gin.Context) {
	o, err := VerifyOffer(a.cfg.Site, c.Query("token"), a.Now())
	if site := c.Query("site"); err == nil && site != "" && o.Site != site {
		err = &OfferError{ReasonWrongSite, "the offer is for another site than site=" + strconv.Quote(site)}
	}
	if err != nil {
		c.JSON(reasonStatus[err.Reason], gin.H{"valid": false, "reason": err.Reason, "error": err.Message})
		return
	}
	c.JSON(http.StatusOK, gin.H{"valid": true, "offer": o.JSON()})
}
