from django.urls import path

from accessgroups.web import reviews

urlpatterns = [
    path("", reviews.review_list, name="reviews"),
    path("new/", reviews.review_open, name="review-open"),
    path("<int:pk>/", reviews.review_detail, name="review-detail"),
    path("<int:pk>/export.csv", reviews.review_export, name="review-export"),
    path("items/<int:pk>/keep/", reviews.review_item_keep, name="review-item-keep"),
    path("items/<int:pk>/revoke/", reviews.review_item_revoke, name="review-item-revoke"),
]
